"""The HTTP API as a backend and its staff use it: a real `aftersales api` process, the dev
server and PostgreSQL, driven by a real HTTP client.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.support.api_helpers import LiveApi, live_api
from tests.support.eventually import eventually

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    # The recall test opens 990 cases; paced at the default 100 a second it would wait ten seconds.
    async with live_api(
        dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("api"), AFTERSALES_API_BATCH_PER_SECOND="400"
    ) as live:
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
        rated = (await backend.post(f"/v1/cases/{case_id}/actions/rate", json={"score": 5})).json()
        if rated["status"] == "follow_up":  # this case was drawn for the follow-up sample
            rated = (
                await staff.post(f"/v1/cases/{case_id}/actions/follow_up_result", json={"outcome": "satisfied"})
            ).json()
        assert rated["status"] == "closed", rated

        timeline = (await staff.get(f"/v1/cases/{case_id}/timeline")).json()
        actors = {e["type"]: e["actor"] for e in timeline["events"]}
        assert actors["acknowledged"] == "agent-li"
        assert actors["approved"] == "reviewer-wang"


async def test_no_key_is_401_the_wrong_role_403_and_self_approval_403(api: LiveApi) -> None:
    system, warehouse = await api.key("system"), await api.key("warehouse")
    boss = await api.key("supervisor", "supervisor-zhao")
    async with api.client() as anonymous, api.client("ak_000000000000_" + "x" * 43) as forged:
        for http in (anonymous, forged):
            answer = await http.post("/v1/cases", json=new_case())
            assert answer.status_code == 401
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["www-authenticate"].startswith("Bearer")
    async with api.client(system) as backend, api.client(warehouse) as goods, api.client(boss) as sup:
        case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        refused = await goods.post(f"/v1/cases/{case_id}/actions/acknowledge", json={})
        assert refused.status_code == 403 and "warehouse" in refused.json()["detail"]
        assert (await goods.post("/v1/cases", json=new_case())).status_code == 403

        await sup.post(f"/v1/cases/{case_id}/actions/acknowledge", json={})
        proposed = await sup.post(
            f"/v1/cases/{case_id}/actions/propose_resolution", json={"type": "refund", "amount": "900"}
        )
        assert proposed.json()["status"] == "awaiting_approval"
        own = await sup.post(f"/v1/cases/{case_id}/actions/approve", json={})
        assert own.status_code == 403 and "four-eyes" in own.json()["detail"]
        state = (await sup.get(f"/v1/cases/{case_id}")).json()
        assert state["status"] == "awaiting_approval"


async def test_the_actor_is_the_keys_principal_and_cannot_be_sent(api: LiveApi) -> None:
    system, agent = await api.key("system"), await api.key("agent", "agent-qian")
    async with api.client(system) as backend, api.client(agent) as staff:
        case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        spoofed = await staff.post(f"/v1/cases/{case_id}/actions/acknowledge", json={"actor": "agent-boss"})
        assert spoofed.status_code == 422
        assert spoofed.json()["errors"][0]["field"] == "actor"
        noted = await staff.post(f"/v1/cases/{case_id}/actions/note", json={"text": "called back"})
        assert noted.status_code == 200
        events = (await staff.get(f"/v1/cases/{case_id}/timeline")).json()["events"]
        assert [e["actor"] for e in events if e["type"] == "note"] == ["agent-qian"]


async def test_a_revoked_key_is_refused_at_once(api: LiveApi) -> None:
    from starter.api.keys import KeyStore

    secret = await api.key("agent")
    key_id = secret.split("_")[1]
    async with api.client(secret) as staff:
        assert (await staff.get("/v1/cases", params={"limit": 1})).status_code == 200
        await KeyStore(api.pool).revoke(key_id)
        assert (await staff.get("/v1/cases", params={"limit": 1})).status_code == 401


async def test_idempotency_key_opens_one_case_and_refuses_a_different_body(api: LiveApi) -> None:
    system = await api.key("system")
    body = {k: v for k, v in new_case().items() if k != "case_id"}
    async with api.client(system) as backend:
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        first = await backend.post("/v1/cases", json=body, headers=headers)
        second = await backend.post("/v1/cases", json=body, headers=headers)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["case_id"] == second.json()["case_id"]
        other = await backend.post("/v1/cases", json=body | {"order_id": "9999"}, headers=headers)
        assert other.status_code == 422 and "Idempotency-Key" in other.json()["detail"]


async def test_bad_input_is_problem_json_naming_the_field_and_never_5xx(api: LiveApi) -> None:
    system = await api.key("system")
    async with api.client(system) as backend:
        cases = [
            ("/v1/cases", {"json": new_case(channel="pigeon")}, 422, "channel"),
            ("/v1/cases", {"content": b"{nope", "headers": {"content-type": "application/json"}}, 422, "body"),
            ("/v1/cases", {"content": b"x" * 300_000, "headers": {"content-type": "application/json"}}, 413, ""),
            ("/v1/cases/nope/actions/note", {"json": {"text": "hi"}}, 404, "not found"),
            ("/v1/cases/x/actions/fly", {"json": {}}, 404, ""),
            ("/v1/cases/x/actions/rate", {"json": {"score": 9}}, 422, "score"),
        ]
        for path, request, status, field in cases:
            answer = await backend.post(path, **request)
            assert answer.status_code == status, (path, answer.text)
            problem = answer.json()
            assert problem["status"] == status and problem["title"]
            assert field in problem["detail"]
        listed = await backend.get("/v1/cases", params={"handler": "x' OR '1'='1"})
        assert listed.status_code == 422 and "handler" in listed.json()["detail"]
        assert (await backend.get("/v1/cases", params={"cursor": "bm90LWEtdG9rZW4"})).status_code == 422



async def test_the_list_pages_through_visibility_with_a_signed_cursor(api: LiveApi) -> None:
    system = await api.key("system")
    async with api.client(system) as backend:
        for _ in range(3):
            assert (await backend.post("/v1/cases", json=new_case(category="logistics"))).status_code == 201

        async def first_page() -> dict[str, Any]:
            return (await backend.get("/v1/cases", params={"limit": 2, "status": "registered"})).json()  # type: ignore[no-any-return]

        page = await eventually(first_page, lambda p: len(p["cases"]) == 2 and p["next_cursor"], "two pages")
        second = (await backend.get("/v1/cases", params={"limit": 2, "cursor": page["next_cursor"]})).json()
        assert second["cases"] and not {c["case_id"] for c in second["cases"]} & {c["case_id"] for c in page["cases"]}
        tampered = page["next_cursor"][:-2] + ("AA" if not page["next_cursor"].endswith("AA") else "BB")
        assert (await backend.get("/v1/cases", params={"cursor": tampered})).status_code == 422


async def test_each_key_has_its_own_rate_limit(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("limited")
    async with live_api(dev_server, postgres_dsn, pool, policy, tmp, AFTERSALES_API_RATE_PER_MINUTE="5") as limited:
        busy, other = await limited.key("agent"), await limited.key("agent")
        async with limited.client(busy) as http, limited.client(other) as calm:
            answers = [await http.get("/v1/cases", params={"limit": 1}) for _ in range(12)]
            # Twelve quick requests fall in at most two one-minute windows of five each.
            codes = [a.status_code for a in answers]
            assert set(codes) == {200, 429} and codes.count(200) <= 10 and codes[:1] == [200]
            for over in (a for a in answers if a.status_code == 429):
                assert over.json()["status"] == 429 and 1 <= int(over.headers["retry-after"]) <= 60
            assert (await calm.get("/v1/cases", params={"limit": 1})).status_code == 200


async def test_a_reviewer_over_their_level_is_403_and_a_supervisor_approves(api: LiveApi) -> None:
    system, agent = await api.key("system"), await api.key("agent")
    reviewer, boss = await api.key("reviewer"), await api.key("supervisor")
    async with api.client(system) as backend, api.client(agent) as staff:
        case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        await staff.post(f"/v1/cases/{case_id}/actions/acknowledge", json={})
        await staff.post(f"/v1/cases/{case_id}/actions/propose_resolution", json={"type": "refund", "amount": "3000"})
    async with api.client(reviewer) as review, api.client(boss) as sup:
        over = await review.post(f"/v1/cases/{case_id}/actions/approve", json={})
        assert over.status_code == 403, over.text
        assert "over the 2000 CNY a reviewer may approve; a supervisor must approve it" in over.json()["detail"]
        approved = await sup.post(f"/v1/cases/{case_id}/actions/approve", json={})
        assert approved.status_code == 200 and approved.json()["review"]["by"].startswith("supervisor-")


async def _link(backend: Any, case_id: str, **body: Any) -> str:
    answer = await backend.post(f"/v1/cases/{case_id}/customer-link", json={"ttl_hours": 2} | body)
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]  # type: ignore[no-any-return]


async def _signing_key(api: LiveApi) -> tuple[str, bytes]:
    row = await api.pool.fetchrow("SELECT id, secret FROM api_signing_keys ORDER BY created_at DESC, id DESC LIMIT 1")
    return row["id"], bytes(row["secret"])


async def _refund_awaiting_confirmation(api: LiveApi, backend: Any, staff: Any, review: Any, note: str) -> str:
    """A case with an internal note, acknowledged, a refund proposed and a reviewer's approval."""
    case_id: str = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
    assert (await staff.post(f"/v1/cases/{case_id}/actions/note", json={"text": note})).status_code == 200
    await staff.post(f"/v1/cases/{case_id}/actions/assign", json={"handler": "agent-li", "team": "vip-desk"})
    await staff.post(f"/v1/cases/{case_id}/actions/acknowledge", json={})
    await staff.post(f"/v1/cases/{case_id}/actions/propose_resolution", json={"type": "refund", "amount": "800"})
    approved = await review.post(f"/v1/cases/{case_id}/actions/approve", json={"note": "PRIVATE-REVIEW-NOTE"})
    assert approved.status_code == 200, approved.text

    async def state() -> dict[str, Any]:
        return (await staff.get(f"/v1/cases/{case_id}")).json()  # type: ignore[no-any-return]

    await eventually(state, lambda s: s["status"] == "awaiting_confirmation", "refund paid", timeout=60)
    return case_id


async def test_a_customer_link_is_issued_by_a_backend_or_agent_for_a_known_case(api: LiveApi) -> None:
    system, reviewer, warehouse = await api.key("system"), await api.key("reviewer"), await api.key("warehouse")
    async with api.client(system) as backend, api.client(reviewer) as review, api.client(warehouse) as goods:
        case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        issued = await backend.post(f"/v1/cases/{case_id}/customer-link", json={"ttl_hours": 3})
        assert issued.status_code == 201, issued.text
        link = issued.json()
        assert set(link) == {"case_id", "token", "expires_at"} and link["case_id"] == case_id
        assert link["token"].startswith("cst1.") and "Li Wei" not in link["token"]
        assert (await backend.post(f"/v1/cases/{case_id}/customer-link")).status_code == 201  # the default life
        unknown = await backend.post("/v1/cases/apinosuchcase1/customer-link", json={})
        assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
        too_long = await backend.post(f"/v1/cases/{case_id}/customer-link", json={"ttl_hours": 24 * 89})
        assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "ttl_hours"
        for hours in (0, -1, "a"):
            bad = await backend.post(f"/v1/cases/{case_id}/customer-link", json={"ttl_hours": hours})
            assert bad.status_code == 422, (hours, bad.text)
        for other in (review, goods):
            assert (await other.post(f"/v1/cases/{case_id}/customer-link", json={})).status_code == 403
    async with api.client(link["token"]) as customer:
        # A link cannot issue links, nor read the staff's view of its own case.
        assert (await customer.post(f"/v1/cases/{case_id}/customer-link", json={})).status_code == 401
        assert (await customer.get(f"/v1/cases/{case_id}/timeline")).status_code == 401
        progress = await customer.get("/v1/progress")
        assert progress.status_code == 200 and progress.json()["case_id"] == case_id


async def test_a_customer_link_follows_and_answers_its_own_case_only(api: LiveApi) -> None:
    system, agent = await api.key("system"), await api.key("agent", "agent-li")
    reviewer = await api.key("reviewer", "reviewer-hidden")
    async with api.client(system) as backend, api.client(agent) as staff, api.client(reviewer) as review:
        mine = await _refund_awaiting_confirmation(api, backend, staff, review, "INTERNAL-NOTE-7")
        theirs = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        token = await _link(backend, mine)
        await staff.post(f"/v1/cases/{mine}/actions/agent_reply", json={"text": "Your refund is on its way."})

    async with api.client(token) as customer:
        view = (await customer.get("/v1/progress")).json()
        assert (view["case_id"], view["status"], view["waiting_on"]) == (mine, "awaiting_confirmation", "customer")
        assert view["actions_available"] == ["confirm", "customer_message", "dispute"]
        assert view["headline"].startswith("Your refund of 800.00 CNY has been carried out")
        assert view["next_deadline"] is not None
        text = json.dumps(view)
        assert "Your refund is on its way." in text  # a reply addressed to the customer is theirs
        for hidden in ("agent-li", "reviewer-hidden", "vip-desk", "INTERNAL-NOTE-7", "PRIVATE-REVIEW-NOTE",
                       "Li Wei", "+8613800000000", "escalat", "actor"):
            assert hidden not in text, hidden

        early = await customer.post("/v1/progress/actions/rate", json={"score": 5})
        assert early.status_code == 409 and "awaiting_confirmation" in early.json()["detail"], early.text
        confirmed = await customer.post("/v1/progress/actions/confirm", json={})
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "awaiting_rating", confirmed.text
        assert set(confirmed.json()) == set(view)  # the customer's view, never the internal state

        # The link is for its case and the customer's side only.
        for path, body in ((f"/v1/cases/{theirs}/actions/confirm", {}), (f"/v1/cases/{theirs}/actions/customer_message",
                           {"text": "hi"}), (f"/v1/cases/{mine}/actions/approve", {}),
                           (f"/v1/cases/{mine}/actions/rate", {"score": 5}), (f"/v1/cases/{mine}", None),
                           (f"/v1/cases/{theirs}", None), ("/v1/cases", None)):
            answer = await (customer.post(path, json=body) if body is not None else customer.get(path))
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
        for action in ("approve", "withdraw", "note", "escalate", "follow_up_result"):
            assert (await customer.post(f"/v1/progress/actions/{action}", json={})).status_code == 404
        spoofed = await customer.post("/v1/progress/actions/customer_message", json={"text": "x", "actor": "agent-li"})
        assert spoofed.status_code == 422
        assert (await customer.get("/v1/progress", params={"lang": "zh"})).json()["headline"] == "感谢您确认处理结果。"
        assert (await customer.get("/v1/progress", params={"lang": "fr"})).status_code == 422


async def test_customer_message_and_rate_with_a_link_after_staff_bring_it_to_rating(api: LiveApi) -> None:
    system, agent = await api.key("system"), await api.key("agent", "agent-li")
    reviewer = await api.key("reviewer", "reviewer-wang")
    async with api.client(system) as backend, api.client(agent) as staff, api.client(reviewer) as review:
        case_id = await _refund_awaiting_confirmation(api, backend, staff, review, "customer seems upset, be careful")
        confirmed = await backend.post(f"/v1/cases/{case_id}/actions/confirm", json={})
        assert confirmed.json()["status"] == "awaiting_rating", confirmed.text
        token = await _link(backend, case_id)

    async with api.client(token) as customer:
        sent = await customer.post("/v1/progress/actions/customer_message", json={"text": "Got it, thanks!"})
        assert sent.status_code == 200, sent.text
        assert {"title": "Your message", "detail": "Got it, thanks!"}.items() <= sent.json()["timeline"][-1].items()
        assert sent.json()["actions_available"] == ["customer_message", "rate"]
        rated = await customer.post("/v1/progress/actions/rate", json={"score": 4, "comment": "fine"})
        assert rated.status_code == 200 and rated.json()["status"] in ("closed", "follow_up"), rated.text
        text = json.dumps(rated.json())
        for hidden in ("agent-li", "reviewer-wang", "customer seems upset", "PRIVATE-REVIEW-NOTE", "vip-desk"):
            assert hidden not in text, hidden
        assert {"title": "You rated our service", "detail": "4/5 · fine"}.items() <= next(
            e for e in rated.json()["timeline"] if e["title"] == "You rated our service"
        ).items()

    async with api.client(agent) as staff:
        events = (await staff.get(f"/v1/cases/{case_id}/timeline")).json()["events"]
        actors = {e["type"]: e["actor"] for e in events}
        assert actors["customer_message"] == actors["rated"] == "customer"  # the link never names anyone else


async def test_a_customer_link_is_refused_after_expiry_and_when_forged(api: LiveApi) -> None:
    from datetime import UTC, datetime, timedelta

    from starter.api import customer_token

    system = await api.key("system")
    async with api.client(system) as backend:
        case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
        good = await _link(backend, case_id)
    key_id, secret = await _signing_key(api)
    now = datetime.now(UTC)
    expired = customer_token.issue(case_id, secret, key_id, now - timedelta(days=1), timedelta(hours=2))
    forged = customer_token.issue(case_id, b"not-our-secret" * 3, key_id, now, timedelta(hours=2))
    unknown_key = customer_token.issue(case_id, secret, "s-nobody", now, timedelta(hours=2))
    for token, reason in ((expired, "expired"), (forged, "bad signature"), (unknown_key, "unknown key"),
                          ("cst1.garbage", "malformed"), ("cst1." + "A" * 2000, "malformed"),
                          (system, "a customer link is required")):
        async with api.client(token) as customer:
            answer = await customer.get("/v1/progress")
            assert answer.status_code == 401 and reason in answer.json()["detail"], answer.text
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "Li Wei" not in answer.text
            acted = await customer.post("/v1/progress/actions/customer_message", json={"text": "hello"})
            assert acted.status_code == 401, acted.text
    async with api.client() as anonymous:
        assert (await anonymous.get("/v1/progress")).status_code == 401
    async with api.client(good) as customer:  # the link issued beside them still works
        assert (await customer.get("/v1/progress")).status_code == 200


async def test_each_customer_link_has_the_rate_limit(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("limited-links")
    async with live_api(dev_server, postgres_dsn, pool, policy, tmp, AFTERSALES_API_RATE_PER_MINUTE="3") as limited:
        links = []
        for _ in range(2):  # a key each, as the limit is three requests a minute for keys too
            async with limited.client(await limited.key("system")) as backend:
                case_id = (await backend.post("/v1/cases", json=new_case())).json()["case_id"]
                links.append(await _link(backend, case_id))
        busy_link, calm_link = links
        async with limited.client(busy_link) as http, limited.client(calm_link) as other:
            # Eight quick requests fall in at most two one-minute windows of three each.
            answers = [await http.get("/v1/progress") for _ in range(8)]
            codes = [a.status_code for a in answers]
            assert set(codes) == {200, 429} and codes[:1] == [200], codes
            over = next(a for a in answers if a.status_code == 429)
            assert "link" in over.json()["detail"] and 1 <= int(over.headers["retry-after"]) <= 60
            assert (await other.get("/v1/progress")).status_code == 200


# Last in the module: the worker is busy with the recall's 990 cases for a while after it.
async def test_a_recall_batch_of_1000_lines_with_10_bad_opens_990_and_names_the_10(api: LiveApi) -> None:
    system = await api.key("system")
    order = f"RECALL-{uuid.uuid4().hex[:8]}"
    lines = [json.dumps(new_case(order_id=order, case_id=f"rc{uuid.uuid4().hex[:12]}")) for _ in range(1000)]
    bad = {
        17: "{not json",
        101: "[1, 2]",
        202: json.dumps(new_case(order_id=order) | {"channel": "pigeon"}),
        303: json.dumps({k: v for k, v in new_case(order_id=order).items() if k != "customer"}),
        404: json.dumps(new_case(order_id=order) | {"order_amount": "-5"}),
        505: json.dumps(new_case(order_id=order) | {"surprise": 1}),
        606: json.dumps(new_case(order_id=order) | {"case_id": "bad id with spaces"}),
        707: json.dumps(new_case(order_id=order) | {"description": "x" * 70_000}),
        808: json.dumps(new_case(order_id=order) | {"category": None}),
        909: lines[0],  # the same case id as line 1
    }
    for number, text in bad.items():
        lines[number - 1] = text
    async with api.client(system) as backend:
        answer = await backend.post(
            "/v1/cases:batch", content="\n".join(lines).encode(), headers={"content-type": "application/x-ndjson"}
        )
    assert answer.status_code == 200, answer.text[:500]
    report = answer.json()
    assert (report["lines"], report["opened"], report["existing"], report["failed"]) == (1000, 990, 0, 10)
    failed = {r["line"]: r["error"] for r in report["results"] if r["error"]}
    assert sorted(failed) == sorted(bad)
    assert "channel" in failed[202] and "customer" in failed[303] and "order_amount" in failed[404]
    assert "surprise" in failed[505] and "case_id" in failed[606] and "line 1" in failed[909]
    assert all("Li Wei" not in e for e in failed.values())  # no echo of what was sent

    async def listed() -> int:
        return (await api.temporal.count_workflows(f"OrderId = '{order}'")).count

    await eventually(listed, lambda n: n == 990, "990 recall cases in visibility", timeout=120)


async def test_a_body_that_is_not_json_is_415(api: LiveApi) -> None:
    system = await api.key("system")
    text = json.dumps(new_case())
    async with api.client(system) as backend:
        for headers in ({"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}):
            sent = await backend.post("/v1/cases", content=text.encode(), headers=headers)
            assert sent.status_code == 415, (headers, sent.text)
            assert sent.headers["content-type"] == "application/problem+json"
            assert sent.json()["detail"] == "content-type: send the body as application/json"
        # An action with no body at all needs no content type: the missing body is named (before
        # the case is looked for).
        bare = await backend.post("/v1/cases/no-such-case/actions/note", headers={"content-type": ""})
        assert bare.status_code == 422 and bare.json()["errors"][0]["field"] == "body", bare.text


async def test_a_body_that_is_not_utf8_is_400_naming_the_byte(api: LiveApi) -> None:
    async with api.client(await api.key("system")) as backend:
        broken = await backend.post(
            "/v1/cases", content=b'{"order_id": "88\xff12"}', headers={"content-type": "application/json"}
        )
    assert broken.status_code == 400, broken.text
    assert broken.json()["detail"] == "body: not valid UTF-8 (byte 16)"
    assert broken.json()["errors"] == [{"field": "body", "message": "not valid UTF-8 (byte 16)"}]


async def test_a_method_a_path_does_not_take_is_405_naming_every_one_it_does(api: LiveApi) -> None:
    async with api.client(await api.key("system")) as backend:
        asked = await backend.options("/v1/cases")
        wrong = await backend.delete("/v1/cases/some-case")
    assert asked.status_code == 405 and asked.headers["allow"] == "GET, POST"
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
