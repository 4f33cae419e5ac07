"""The PostgreSQL record: a complete, ordered audit trail, a projection that agrees with the
workflow, and activities that write exactly once however often they run."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    Cancellation,
    MoneyMovement,
    MoneyMovementKind,
    Reversal,
    Shipment,
    Visit,
    VisitKind,
)
from activities.followups import FollowUps, VisitLedger
from activities.record_input import record_case
from activities.refunds import LedgerRefunds, Refunds
from activities.shipments import Shipments, WarehouseLedger
from activities.store import CaseStore, PostgresProjection
from cases.core.effects import Audience, Notification, NotificationChannel
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.clock import skip
from tests.support.factories import intake


async def test_full_case_leaves_complete_ordered_audit_trail_matching_projection(env, pool, policy):
    case = intake(category="product_quality", order_amount="1200.00", customer_tier="vip")
    async with case_worker(env.client, pool, policy) as tq:
        client = CaseClient(env.client, tq)
        await client.open(case)
        cid = case.case_id
        await client.act(cid, "acknowledge", {"actor": "agent-7"})
        await client.act(cid, "request_info", {"actor": "agent-7", "question": "photo please"})
        await client.act(cid, "customer_reply", {"text": "attached"})
        await client.act(cid, "propose_resolution", {"actor": "agent-7", "type": "refund", "amount": "800"})
        await client.act(cid, "approve", {"actor": "supervisor-2", "role": "supervisor"})
        await client.wait_for_state(cid)
        await skip(env, timedelta(seconds=2))
        await client.act(cid, "confirm", {})
        await client.act(cid, "rate", {"score": 4, "comment": "ok"})
        await skip(env, timedelta(seconds=1))
        # The projection against the state the running workflow holds. Once the case ends, a
        # query is answered by replaying the history, and the time-skipping server has been seen
        # to stamp the first workflow task a few milliseconds apart from the time it handed the
        # worker; the live state is what the records were computed from.
        live = await client.state(cid)
        assert live.follow_up is not None and live.follow_up.reference is not None
        held = await pool.fetchrow("SELECT state FROM cases WHERE case_id = $1", cid)
        assert held is not None
        assert json.loads(held["state"]) == json.loads(live.model_dump_json())
        await client.act(cid, "follow_up_result", {"actor": "agent-9", "outcome": "satisfied"})
        await client.handle(cid).result()
        final = await client.state(cid)

    assert final.status.value == "closed"
    rows = await pool.fetch(
        "SELECT seq, type, actor, at, data FROM case_events WHERE case_id = $1 ORDER BY seq", cid
    )
    assert [r["seq"] for r in rows] == list(range(1, final.last_seq + 1))
    types = [r["type"] for r in rows]
    # The business steps appear once each, in the order they happened.
    milestones = [t for t in types if t in {
        "opened", "acknowledged", "info_requested", "customer_replied", "resolution_proposed",
        "approved", "resolution_executed", "confirmed", "rated", "follow_up_scheduled",
        "follow_up_result", "closed"}]
    assert milestones == [
        "opened", "acknowledged", "info_requested", "customer_replied", "resolution_proposed",
        "approved", "resolution_executed", "confirmed", "rated", "follow_up_scheduled",
        "follow_up_result", "closed",
    ]
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    actors = {r["type"]: r["actor"] for r in rows}
    assert actors["acknowledged"] == "agent-7" and actors["approved"] == "supervisor-2"
    assert actors["confirmed"] == "customer"

    row = await pool.fetchrow("SELECT * FROM cases WHERE case_id = $1", cid)
    assert row is not None
    stored = json.loads(row["state"])
    # What closing the case changed is recorded as the replayed final state has it.
    closing = json.loads(final.model_dump_json())
    moved = {k for k, v in closing.items() if v != json.loads(live.model_dump_json())[k]}
    assert {"status", "closed_at", "follow_up", "last_seq"} <= moved
    assert {k: stored[k] for k in moved - {"opened_at", "clocks"}} == {
        k: closing[k] for k in moved - {"opened_at", "clocks"}
    }
    assert (row["status"], row["tier"], row["last_seq"]) == ("closed", final.tier.value, final.last_seq)
    assert row["rating"] == 4 and row["resolution_type"] == "refund"
    assert row["resolution_amount"] == Decimal("800.00") and row["review_approved"] is True
    assert row["follow_up_outcome"] == "satisfied"
    clocks = await pool.fetch(
        "SELECT clock, state, met_at FROM sla_clocks WHERE case_id = $1 ORDER BY clock", cid
    )
    assert {c["clock"]: c["state"] for c in clocks} == {
        name.value: clock.state.value for name, clock in final.clocks.items()
    }
    survey = await pool.fetchrow("SELECT score, comment FROM surveys WHERE case_id = $1", cid)
    assert survey is not None and (survey["score"], survey["comment"]) == (4, "ok")
    refunds = await pool.fetch("SELECT amount, status FROM refunds WHERE case_id = $1", cid)
    assert [(r["amount"], r["status"]) for r in refunds] == [(Decimal("800.00"), "executed")]
    sent = await pool.fetchval("SELECT count(DISTINCT key) FROM notifications WHERE case_id = $1", cid)
    assert sent == len(final.notifications)


async def _count(pool: asyncpg.Pool, table: str, case_id: str) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {table} WHERE case_id = $1", case_id)


async def test_every_activity_run_twice_writes_once(env, pool, policy):
    """Retries and replays after a crash call an activity again with the same input."""
    act = ActivityEnvironment()
    cid = f"twice-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)

    from cases.core.machine import CaseMachine

    machine = CaseMachine.open(cid, intake(case_id=cid), policy.snapshot(now), now)
    record = record_case(machine.state, machine.events)
    store = CaseStore(PostgresProjection(pool))
    first = await act.run(store.record, record)
    second = await act.run(store.record, record)
    assert first.events_written == len(machine.events) and first.projection_written
    assert second.events_written == 0 and not second.projection_written
    assert await _count(pool, "case_events", cid) == len(machine.events)
    assert await _count(pool, "cases", cid) == 1

    note = Notification(
        key=f"{cid}:9:escalation", case_id=cid, kind="escalation", audience=Audience.SUPERVISOR,
        recipient="regional-supervisor", channels=[NotificationChannel.INTERNAL, NotificationChannel.EMAIL],
        subject="s", body="b",
    )
    queued = record_case(machine.state, [], notifications=[note])
    await act.run(store.record, queued)
    await act.run(store.record, queued)
    assert await _count(pool, "notifications", cid) == 2  # one row per channel, not per attempt

    refunds = Refunds(LedgerRefunds(pool))
    money = MoneyMovement(key=f"{cid}:p1:refund", case_id=cid, order_id="o", customer_id="c",
                          kind=MoneyMovementKind.REFUND, amount=Decimal("42.50"), currency="CNY")
    a = await act.run(refunds.execute, money)
    b = await act.run(refunds.execute, money)
    assert a.reference == b.reference
    assert await _count(pool, "refunds", cid) == 1
    undo = Reversal(key=f"{cid}:p1:refund:undo", case_id=cid, reference=a.reference, reason="r")
    assert (await act.run(refunds.reverse, undo)).reversed
    assert (await act.run(refunds.reverse, undo)).reversed
    assert await pool.fetchval("SELECT count(*) FROM refunds WHERE case_id = $1 AND status = 'reversed'", cid) == 1

    goods = Shipments(WarehouseLedger(pool))
    ship = Shipment(key=f"{cid}:p1:replacement", case_id=cid, order_id="o", customer_id="c")
    s1 = await act.run(goods.ship, ship)
    s2 = await act.run(goods.ship, ship)
    assert s1.reference == s2.reference and await _count(pool, "shipments", cid) == 1
    cancel = Cancellation(key=f"{cid}:undo", case_id=cid, reference=s1.reference, reason="r")
    await act.run(goods.cancel, cancel)
    await act.run(goods.cancel, cancel)
    assert await _count(pool, "shipments", cid) == 1

    visits = FollowUps(VisitLedger(pool))
    visit = Visit(key=f"{cid}:r0:follow_up", case_id=cid, customer_id="c", kind=VisitKind.FOLLOW_UP,
                  scheduled_for=now + timedelta(days=7), reason="sample")
    v1 = await act.run(visits.schedule, visit)
    v2 = await act.run(visits.schedule, visit.model_copy(update={"scheduled_for": now}))
    assert v1.reference == v2.reference and v2.scheduled_for == v1.scheduled_for
    assert await _count(pool, "follow_ups", cid) == 1
