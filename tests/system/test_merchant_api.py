"""`/v1/merchants`: platform staff manage the merchant registry over HTTP; a merchant's key sees
its own merchant only."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
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


async def test_a_request_walked_from_the_buyers_ask_to_the_merchants_silence_and_the_refund(api: LiveApi) -> None:
    """The README's walk-through: a merchant that holds itself to answering within seconds, so its
    silence falls due while the test waits on the real server."""
    merchant = f"quick-{uuid.uuid4().hex[:6]}"
    staff = await api.key("supervisor")
    async with api.client(staff) as http:
        assert (await http.post("/v1/merchants", json={"merchant_id": merchant, "name": "Quick"})).status_code == 201
        policy = await http.put(f"/v1/merchants/{merchant}/policy",
                                json={"policy": '[platform]\nanswer_within = "3s"\n'})
        assert policy.status_code == 200, policy.text
    keys = KeyStore(api.pool)
    backend = (await keys.create(f"backend-{merchant}", "system", merchant)).secret
    agent = (await keys.create(f"agent-{merchant}", "agent", merchant)).secret
    signed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"case_id": "9100", "order_id": "A-9100", "channel": "app", "category": "description_mismatch",
            "description": "not what the photos showed", "order_amount": "259.00", "customer": {"id": "c-9"},
            "request": {"remedy": "return_refund", "reason": "no_reason", "order": {"signed_at": signed}}}
    async with api.client(backend) as http:
        opened = await http.post("/v1/cases", json=body)
        assert opened.status_code in (200, 201), opened.text
        case = await http.get("/v1/cases/9100")
        assert case.json()["request"]["eligibility"]["rule"] == "no_reason_return"
    async with api.client(agent) as http:
        refused = await http.post("/v1/cases/9100/actions/answer_request",
                                  json={"decision": "reject", "reason": "we do not take returns"})
        assert refused.status_code == 403 and "Consumer Rights Protection Law art. 25" in refused.json()["detail"]
    async with api.client(backend) as http:
        authorised = await _eventually_status(http, "9100", "awaiting_return")
        assert authorised["return_leg"]["address"]
        await http.post("/v1/cases/9100/actions/return_shipped",
                        json={"carrier": "SF Express", "tracking_number": "SF1029384756"})
        delivered = await http.post("/v1/cases/9100/actions/return_delivered", json={})
        assert delivered.status_code == 200, delivered.text
        link = await http.post("/v1/cases/9100/customer-link", json={"ttl_hours": 1})
        token = link.json()["token"]
    async with api.client(token) as http:
        progress = (await http.get("/v1/progress")).json()
        assert "request_remedy" not in progress["actions_available"]
        titles = [e["title"] for e in progress["timeline"]]
        assert "You asked the merchant" in titles and "Return delivered to the merchant" in titles
    refunds = await api.pool.fetch("SELECT key FROM refunds WHERE case_id = $1", f"{merchant}~9100")
    assert refunds == []  # the merchant has 7 days after delivery; it has not refunded yet

    # A refund-only request nobody answers: the silence refunds, once.
    lost = body | {"case_id": "9101", "request": {"remedy": "refund_only", "reason": "not_received"}}
    async with api.client(backend) as http:
        assert (await http.post("/v1/cases", json=lost)).status_code in (200, 201)
        paid = await _eventually_status(http, "9101", "awaiting_confirmation")
        assert paid["request"]["answer"] == "agreed_by_silence"
        assert paid["resolution"]["proof"]["refund_reference"].startswith("RF-")
    rows = await api.pool.fetch("SELECT key, amount FROM refunds WHERE case_id = $1", f"{merchant}~9101")
    assert [(r["key"], str(r["amount"])) for r in rows] == [(f"{merchant}~9101:p1:refund", "259.00")]


async def _eventually_status(http: Any, case_id: str, status: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        state = (await http.get(f"/v1/cases/{case_id}")).json()
        if state["status"] == status or loop.time() > deadline:
            assert state["status"] == status, state["status"]
            return state  # type: ignore[no-any-return]
        await asyncio.sleep(0.5)


async def test_an_intervention_walked_from_the_buyers_ask_to_the_ruling_and_the_recovery(api: LiveApi) -> None:
    """The README's walk-through of the platform stepping in, with a merchant that carries rulings
    out within seconds, so the platform pays first while the test waits."""
    merchant = f"fresh-{uuid.uuid4().hex[:6]}"
    async with api.client(await api.key("supervisor")) as http:
        assert (await http.post("/v1/merchants", json={"merchant_id": merchant, "name": "Fresh"})).status_code == 201
        policy = await http.put(f"/v1/merchants/{merchant}/policy",
                                json={"policy": '[platform]\nintervention_carry_out_within = "3s"\n'})
        assert policy.status_code == 200, policy.text
    keys = KeyStore(api.pool)
    backend = (await keys.create(f"backend-{merchant}", "system", merchant)).secret
    agent = (await keys.create(f"agent-{merchant}", "agent", merchant)).secret
    arbiter = await api.key("arbiter", f"arbiter-{merchant}")
    signed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"case_id": "9200", "order_id": "A-9200", "channel": "app", "category": "product_quality",
            "description": "rotten on arrival", "order_amount": "259.00", "customer": {"id": "c-9"},
            "request": {"remedy": "return_refund", "reason": "no_reason",
                        "order": {"signed_at": signed, "goods_class": "perishable"}}}
    async with api.client(backend) as http:
        assert (await http.post("/v1/cases", json=body)).status_code in (200, 201)
        token = (await http.post("/v1/cases/9200/customer-link", json={"ttl_hours": 1})).json()["token"]
    async with api.client(agent) as http:
        declined = await http.post("/v1/cases/9200/actions/answer_request",
                                   json={"decision": "reject", "reason": "fresh food is not returned"})
        assert declined.status_code == 200, declined.text
    async with api.client(token) as http:
        asked = await http.post("/v1/progress/actions/ask_intervention",
                                json={"reason": "it arrived rotten", "references": ["photo-1"]})
        assert asked.status_code == 200, asked.text
        assert "merchant gives its side" in (await http.get("/v1/progress")).json()["headline"]
    async with api.client(agent) as http:
        evidence = await http.post("/v1/cases/9200/actions/submit_evidence",
                                   json={"party": "merchant", "text": "it left our store fresh"})
        assert evidence.status_code == 200, evidence.text
        refused = await http.post("/v1/cases/9200/actions/rule",
                                  json={"decision": "reject", "reason": "mine to decide"})
        assert refused.status_code == 403
    async with api.client(arbiter) as http:
        ruled = await http.post(f"/v1/cases/{merchant}~9200/actions/rule",
                                json={"decision": "refund", "amount": "259", "reason": "rotten on arrival"})
        assert ruled.status_code == 200, ruled.text
    async with api.client(backend) as http:
        paid = await _eventually_status(http, "9200", "awaiting_confirmation")
        assert paid["intervention"]["stage"] == 6 and paid["resolution"]["proof"]["refund_reference"].startswith("PR-")
    async with api.client(agent) as http:
        late = await http.post("/v1/cases/9200/actions/carry_out_ruling", json={"note": "refunded today"})
        assert late.status_code == 200, late.text
        account = (await http.get(f"/v1/merchants/{merchant}/ledger")).json()
    assert account["balances"] == [{"currency": "CNY", "platform_payouts": "259.00", "recoveries": "259.00",
                                     "settled": "259.00", "owed": "0.00"}]
    assert sorted(e["kind"] for e in account["entries"]) == ["platform_payout", "recovery", "recovery_settled"]
    rows = await api.pool.fetch("SELECT kind FROM refunds WHERE case_id = $1", f"{merchant}~9200")
    assert [r["kind"] for r in rows] == ["platform_refund"]  # the late merchant refund paid no one
