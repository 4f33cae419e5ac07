"""The HTTP API as a backend and its staff use it: a real `aftersales api` process, the dev
server and PostgreSQL, driven by a real HTTP client.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api_helpers import LiveApi, live_api
from tests.eventually import eventually

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    async with live_api(dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("api")) as live:
        yield live


def new_case(**overrides: Any) -> dict[str, Any]:
    return {
        "case_id": f"api{uuid.uuid4().hex[:10]}",
        "order_id": "8812",
        "customer": {"id": "cust-1", "name": "Li Wei", "phone": "+8613800000000"},
        "channel": "app",
        "category": "description_mismatch",
        "description": "The colour differs from the listing.",
        "order_amount": "3000.00",
    } | overrides


async def test_the_whole_lifecycle_over_http(api: LiveApi) -> None:
    system, agent = await api.key("system"), await api.key("agent", "agent-li")
    reviewer = await api.key("reviewer", "reviewer-wang")
    async with api.client(system) as backend, api.client(agent) as staff, api.client(reviewer) as review:
        body = new_case()
        opened = await backend.post("/v1/cases", json=body)
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        again = await backend.post("/v1/cases", json=body)
        assert (again.status_code, again.json()["created"]) == (200, False)

        acked = await staff.post(f"/v1/cases/{case_id}/actions/acknowledge", json={})
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        proposed = await staff.post(
            f"/v1/cases/{case_id}/actions/propose_resolution", json={"type": "refund", "amount": "800"}
        )
        assert proposed.json()["status"] == "awaiting_approval", proposed.text
        approved = await review.post(f"/v1/cases/{case_id}/actions/approve", json={"note": "ok"})
        assert approved.status_code == 200, approved.text

        async def state() -> dict[str, Any]:
            return (await staff.get(f"/v1/cases/{case_id}")).json()  # type: ignore[no-any-return]

        await eventually(state, lambda s: s["status"] == "awaiting_confirmation", "refund paid", timeout=60)
        confirmed = await backend.post(f"/v1/cases/{case_id}/actions/confirm", json={})
        assert confirmed.json()["status"] == "awaiting_rating", confirmed.text
        rated = await backend.post(f"/v1/cases/{case_id}/actions/rate", json={"score": 5})
        assert rated.json()["status"] == "closed", rated.text

        timeline = (await staff.get(f"/v1/cases/{case_id}/timeline")).json()
        actors = {e["type"]: e["actor"] for e in timeline["events"]}
        assert actors["acknowledged"] == "agent-li"
        assert actors["approved"] == "reviewer-wang"
