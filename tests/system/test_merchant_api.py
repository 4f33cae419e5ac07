"""`/v1/merchants`: platform staff manage the merchant registry over HTTP; a merchant's key sees
its own merchant only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from starter.api.keys import KeyStore
from tests.support.api_helpers import LiveApi, live_api

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    async with live_api(dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("merchant-api")) as live:
        yield live


async def test_platform_staff_register_merchants_and_store_their_policies(api: LiveApi) -> None:
    run = uuid.uuid4().hex[:6]
    mine, other = f"shop-{run}", f"rival-{run}"
    staff, platform_agent = await api.key("supervisor"), await api.key("agent")
    async with api.client(staff) as http:
        created = await http.post("/v1/merchants", json={"merchant_id": mine, "name": "Shop"})
        assert created.status_code == 201, created.text
        assert (await http.post("/v1/merchants", json={"merchant_id": other, "name": "Rival"})).status_code == 201
        again = await http.post("/v1/merchants", json={"merchant_id": mine, "name": "Shop again"})
        assert again.status_code == 409 and "already registered" in again.text
        bad = await http.post("/v1/merchants", json={"merchant_id": "Not An Id", "name": "x"})
        assert bad.status_code == 422 and "merchant_id" in bad.text
        listed = (await http.get("/v1/merchants")).json()["merchants"]
        assert {mine, other, "default"} <= {m["merchant_id"] for m in listed}
        renamed = await http.patch(f"/v1/merchants/{mine}", json={"name": "Shop 一号"})
        assert renamed.json()["name"] == "Shop 一号" and renamed.json()["plan"] == "standard"
        upgraded = await http.patch(f"/v1/merchants/{mine}", json={"plan": "premium"})
        assert upgraded.json() | {"created_at": None} == {
            "merchant_id": mine, "name": "Shop 一号", "plan": "premium", "created_at": None}
        for body, field in (({"plan": "gold"}, "plan"), ({}, "name, the plan")):
            refused_change = await http.patch(f"/v1/merchants/{mine}", json=body)
            assert refused_change.status_code == 422 and field in refused_change.text, refused_change.text

        looser = await http.put(f"/v1/merchants/{mine}/policy",
                                json={"policy": '[targets.general]\nfirst_response = "48h"\n'})
        assert looser.status_code == 422 and "targets.general.first_response" in looser.json()["detail"]
        stricter = '[targets.general]\nfirst_response = "4h"\n'
        stored = await http.put(f"/v1/merchants/{mine}/policy", json={"policy": stricter})
        assert stored.status_code == 200, stored.text
        assert await api.pool.fetchval("SELECT policy_toml FROM merchants WHERE merchant_id = $1", mine) == stricter
        assert (await http.get("/v1/merchants/never-registered")).status_code == 404
    async with api.client(platform_agent) as http:
        refused = await http.post("/v1/merchants", json={"merchant_id": f"x-{run}", "name": "x"})
        assert refused.status_code == 403 and "supervisor" in refused.text

    own = (await KeyStore(api.pool).create(f"staff-{mine}", "supervisor", mine)).secret
    async with api.client(own) as http:
        assert (await http.get(f"/v1/merchants/{mine}")).json()["name"] == "Shop 一号"
        hidden = await http.get(f"/v1/merchants/{other}")
        assert hidden.status_code == 404 and other in hidden.text  # exactly as never registered
        assert (await http.get("/v1/merchants")).status_code == 403
        assert (await http.put(f"/v1/merchants/{mine}/policy", json={"policy": None})).status_code == 403
