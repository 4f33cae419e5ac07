"""Two merchants on one platform, on a real stack: no key of one merchant reads, lists, acts on or
learns of the other's cases, and none of its answers carries a customer's clear personal data.

Every route a staff key can call is driven with generated requests: each role of merchant A, and
case references that name A's cases, B's cases (by B's key and by the case id both merchants
use) and cases that do not exist. An answer about B's case must be exactly the answer about a case
that does not exist. A platform key's clear read writes one access-log row.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from activities.merchants import MerchantRegistry
from activities.webhooks.subscriptions import WebhookSubscriptions
from cases.actions.registry import ACTION_MODELS
from cases.actions.roles import Role
from starter.api.keys import KeyStore
from tests.support.api_helpers import LiveApi, live_api

pytestmark = pytest.mark.devserver

EXAMPLES = 120

# A merchant's keys hold every role but the platform's arbiter.
MERCHANT_ROLES = [r for r in Role if r != Role.ARBITER]


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    async with live_api(
        dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("merchants"),
        AFTERSALES_API_RATE_PER_MINUTE="100000", AFTERSALES_API_MERCHANT_RATE_PER_MINUTE="100000",
    ) as live:
        yield live


@dataclass
class Merchant:
    merchant_id: str
    keys: dict[Role, str] = field(default_factory=dict)
    cases: list[str] = field(default_factory=list)  # the merchant's own case ids
    personal: list[str] = field(default_factory=list)  # every clear personal value of its customers


def _intake(case_id: str, n: str, merchant_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_id": case_id,
        "order_id": f"ORD-{n}",
        "customer": {"id": f"cust-{n}", "name": f"张{n}伟", "phone": f"+86139{n[:4]}{n[-4:]}",
                     "email": f"buyer.{n}@example.com"},
        "channel": "app",
        "category": "description_mismatch",
        "description": "The colour differs from the listing.",
        "order_amount": "299.00",
    }
    return body | ({"merchant_id": merchant_id} if merchant_id else {})


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit()).ljust(8, "0")


def _forms(value: str) -> list[str]:
    """The value as it could leak: as is, JSON-escaped either way, and in base64."""
    raw = value.encode()
    return [
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ]


async def _merchants(api: LiveApi) -> tuple[Merchant, Merchant, dict[Role, str], str]:
    run = uuid.uuid4().hex[:6]
    registry, keys = MerchantRegistry(api.pool), KeyStore(api.pool)
    a, b = Merchant(f"ma-{run}"), Merchant(f"mb-{run}")
    shared = f"shared-{run}"
    platform: dict[Role, str] = {}
    for m in (a, b):
        await registry.add(m.merchant_id, m.merchant_id.upper())
        for role in Role:
            if role in MERCHANT_ROLES:
                m.keys[role] = (await keys.create(f"{role.value}-{m.merchant_id}", role, m.merchant_id)).secret
        await WebhookSubscriptions(api.pool).add("http://127.0.0.1:9/hooks", "*", m.merchant_id)
    for role in (Role.SUPERVISOR, Role.SYSTEM):
        platform[role] = (await keys.create(f"platform-{role.value}-{run}", role)).secret
    async with api.client(a.keys[Role.SYSTEM]) as http_a, api.client(b.keys[Role.SYSTEM]) as http_b:
        for m, http in ((a, http_a), (b, http_b)):
            for case_id in (shared, f"only-{m.merchant_id}"):
                n = _digits(uuid.uuid4().hex)[:8]
                opened = await http.post("/v1/cases", json=_intake(case_id, n))
                assert opened.status_code == 201, opened.text
                assert opened.json()["case_id"] == f"{m.merchant_id}~{case_id}"
                m.cases.append(case_id)
                m.personal += [f"张{n}伟", f"+86139{n[:4]}{n[-4:]}", f"139{n[:4]}{n[-4:]}", f"buyer.{n}@example.com"]
    return a, b, platform, shared


def _refs(a: Merchant, b: Merchant) -> tuple[list[str], list[str], list[str]]:
    """(A's refs, B's refs as A could write them, refs to nothing)."""
    own = a.cases + [f"{a.merchant_id}~{c}" for c in a.cases]
    others = [f"{b.merchant_id}~{c}" for c in b.cases] + [c for c in b.cases if c not in a.cases]
    others += [f"default~{c}" for c in b.cases]
    missing = ["never-opened-1", f"{b.merchant_id}~never-opened-2", f"{a.merchant_id}~never-opened-3"]
    return own, others, missing


# Every route that names a case: reading it, its timeline, a customer link, and every action.
ROUTES = ["get", "timeline", "link", *sorted(ACTION_MODELS)]
# Bodies that pass validation, so the action reaches the case; the rest go empty, which the
# actions that need more refuse (422) whichever case they name.
BODIES: dict[str, dict[str, Any]] = {
    "note": {"text": "called the customer back"},
    "request_info": {"question": "Which colour did you order?"},
    "agent_reply": {"text": "We are on it."},
    "escalate": {"reason": "customer asked for a manager"},
}


def _call(http: httpx.Client, route: str, ref: str) -> httpx.Response:
    if route == "get":
        return http.get(f"/v1/cases/{ref}")
    if route == "timeline":
        return http.get(f"/v1/cases/{ref}/timeline")
    if route == "link":
        return http.post(f"/v1/cases/{ref}/customer-link", json={})
    return http.post(f"/v1/cases/{ref}/actions/{route}", json=BODIES.get(route, {}))


def _without(text: str, ref: str) -> str:
    return text.replace(ref, "<ref>")


def _leaks(text: str, values: list[str]) -> list[str]:
    return [form for value in values for form in _forms(value) if form and form in text]


def _drive(api: LiveApi, a: Merchant, b: Merchant) -> int:
    own, others, missing = _refs(a, b)
    personal = a.personal + b.personal
    calls = 0
    baselines: dict[tuple[str, str, str], str] = {}

    @seed(20261207)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(
        role=st.sampled_from(MERCHANT_ROLES),
        route=st.sampled_from(ROUTES),
        ref=st.sampled_from(own + others + missing),
    )
    def one(role: Role, route: str, ref: str) -> None:
        nonlocal calls
        calls += 1
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {a.keys[role]}"}, timeout=60) as http:
            answer = _call(http, route, ref)
            assert answer.status_code < 500, answer.text
            assert not _leaks(answer.text, personal), (route, ref, answer.text)
            if ref in own:
                assert answer.status_code != 404, (route, ref, answer.text)
                return
            # Another merchant's case answers exactly as a case that was never opened; named by
            # its key, it is 404 before any role is weighed (422 only for a body no case takes).
            keyed = "~" in ref
            if keyed and not ref.startswith(f"{a.merchant_id}~"):
                assert answer.status_code in (404, 422), (route, ref, answer.text)
            prefix = ref.split("~")[0] if keyed else ""
            probe = f"{prefix}~absent-{calls}" if keyed else f"absent-{calls}"
            if (role.value, route, prefix) not in baselines:
                baselines[(role.value, route, prefix)] = _without(_call(http, route, probe).text, probe)
            assert _without(answer.text, ref) == baselines[(role.value, route, prefix)], (route, ref)

    one()
    return calls


def _drive_unnamed(api: LiveApi, a: Merchant, b: Merchant) -> int:
    """The routes that name no case: the list, opening one case, and a batch."""
    calls = 0

    @seed(20261208)
    @settings(max_examples=EXAMPLES // 4, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(
        role=st.sampled_from(MERCHANT_ROLES),
        route=st.sampled_from(["list", "open", "batch", "merchants", "merchant", "merchant_policy"]),
        merchant=st.sampled_from([None, a.merchant_id, b.merchant_id]),
        case_id=st.sampled_from([*a.cases, *b.cases, "fresh-1"]),
    )
    def one(role: Role, route: str, merchant: str | None, case_id: str) -> None:
        nonlocal calls
        calls += 1
        body = _intake(case_id, "20261207", merchant)
        with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {a.keys[role]}"}, timeout=60) as http:
            if route == "merchants":
                answer = http.get("/v1/merchants")
                assert answer.status_code == 403 and b.merchant_id not in answer.text, answer.text
            elif route in ("merchant", "merchant_policy"):
                named = merchant or a.merchant_id
                if route == "merchant":
                    answer = http.get(f"/v1/merchants/{named}")
                else:
                    answer = http.put(f"/v1/merchants/{named}/policy", json={"policy": None})
                if named == b.merchant_id:
                    assert answer.status_code == 404, answer.text  # as a merchant never registered
                else:
                    assert answer.status_code == (200 if route == "merchant" else 403), answer.text
            elif route == "list":
                answer = http.get("/v1/cases", params={"merchant": merchant} if merchant else {})
                found = answer.json()["cases"]
                assert {c["merchant_id"] for c in found} <= {a.merchant_id}, answer.text
                assert all(c["case_id"].startswith(f"{a.merchant_id}~") for c in found), answer.text
            elif route == "open":
                answer = http.post("/v1/cases", json=body)
                if answer.status_code == 403:
                    return  # a role that opens nothing
                if merchant == b.merchant_id:
                    assert answer.status_code == 422 and "merchant_id" in answer.text, answer.text
                else:
                    assert answer.status_code in (200, 201), answer.text
                    assert answer.json()["case_id"] == f"{a.merchant_id}~{case_id}"
            else:
                answer = http.post("/v1/cases:batch", content=json.dumps(body),
                                   headers={"content-type": "application/x-ndjson"})
                if answer.status_code == 403:
                    return
                line = answer.json()["results"][0]
                if merchant == b.merchant_id:
                    assert line["case_id"] is None and line["error"].startswith("merchant_id"), line
                else:
                    assert line["case_id"] == f"{a.merchant_id}~{case_id}", line
            assert answer.status_code < 500, answer.text
            fresh = ["张20261207伟", "+8613920261207", "13920261207", "buyer.20261207@example.com"]
            assert not _leaks(answer.text, a.personal + b.personal + fresh), answer.text

    one()
    return calls


async def test_a_merchant_key_never_reaches_another_merchants_case(api: LiveApi) -> None:
    a, b, platform, shared = await _merchants(api)
    for one, other in ((a, b), (b, a)):
        assert await asyncio.to_thread(_drive, api, one, other) == EXAMPLES
        assert await asyncio.to_thread(_drive_unnamed, api, one, other) == EXAMPLES // 4

    async with api.client(a.keys[Role.SUPERVISOR]) as http:
        listed = (await http.get("/v1/cases", params={"limit": 100})).json()["cases"]
        assert {c["merchant_id"] for c in listed} == {a.merchant_id}
        assert {c["case_id"] for c in listed} >= {f"{a.merchant_id}~{c}" for c in a.cases}
        assert all(c["case_id"].startswith(f"{a.merchant_id}~") for c in listed)
        assert (await http.get("/v1/cases", params={"merchant": b.merchant_id})).json()["cases"] == []
        timeline = (await http.get(f"/v1/cases/{shared}/timeline")).json()
        assert timeline["case_id"] == f"{a.merchant_id}~{shared}"
        masked = (await http.get(f"/v1/cases/{shared}")).json()["intake"]["customer"]
        assert masked["name"].endswith("*") and "****" in masked["phone"] and "*@example.com" in masked["email"]
        assert masked["reachable_by_sms"] and masked["reachable_by_email"]
    async with api.client(a.keys[Role.SYSTEM]) as http:
        # Opening a case for the other merchant is refused; the same case id opens (finds) its own.
        foreign = await http.post("/v1/cases", json=_intake("x-1", "12345678", b.merchant_id))
        assert foreign.status_code == 422 and "merchant_id" in foreign.text
        again = await http.post("/v1/cases", json=_intake(shared, "12345678"))
        assert (again.status_code, again.json()["case_id"]) == (200, f"{a.merchant_id}~{shared}")
        lines = "\n".join(json.dumps(_intake(c, "87654321", m)) for c, m in
                          ((shared, None), ("batch-1", b.merchant_id)))
        batch = (await http.post("/v1/cases:batch", content=lines,
                                 headers={"content-type": "application/x-ndjson"})).json()
        assert batch["results"][0]["case_id"] == f"{a.merchant_id}~{shared}"
        assert batch["results"][1]["case_id"] is None and batch["results"][1]["error"].startswith("merchant_id")
        assert not _leaks(json.dumps(batch), a.personal + b.personal)

    # Each subscription heard its own merchant's cases only, and no delivery carries personal data.
    rows = await api.pool.fetch(
        "SELECT s.merchant_id, d.case_id, d.payload::text AS payload FROM webhook_deliveries d"
        " JOIN webhook_subscriptions s ON s.id = d.subscription_id WHERE s.merchant_id = ANY($1::text[])",
        [a.merchant_id, b.merchant_id],
    )
    assert {r["merchant_id"] for r in rows} == {a.merchant_id, b.merchant_id}
    for row in rows:
        assert row["case_id"].startswith(f"{row['merchant_id']}~"), row["case_id"]
        assert not _leaks(row["payload"], a.personal + b.personal)

    # A platform key reads the clear values, and each such read is logged once.
    key = f"{b.merchant_id}~{shared}"
    before = await api.pool.fetchval("SELECT count(*) FROM personal_data_reads WHERE case_id = $1", key)
    async with api.client(platform[Role.SUPERVISOR]) as http:
        clear = (await http.get(f"/v1/cases/{key}")).json()["intake"]["customer"]
    assert clear["name"] in b.personal and clear["phone"] in b.personal
    logged = await api.pool.fetch(
        "SELECT principal, fields FROM personal_data_reads WHERE case_id = $1 ORDER BY id", key
    )
    assert len(logged) == before + 1
    assert logged[-1]["principal"].startswith("platform-supervisor-")
    assert set(logged[-1]["fields"]) == {"name", "phone", "email"}
