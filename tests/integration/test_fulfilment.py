"""Returns, inspections, exchanges and repairs, and the next-reply clock, through the workflow on
the time-skipping server.

Every deadline is checked at its exact instant: one second before it nothing has happened, one
second after it the clock is breached at precisely its due time and the case has moved on. Every
expected instant is derived from the instant the workflow recorded for the step that started the
clock, so the tests hold however long the machine takes between steps.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from activities.contracts import Cancellation, CancellationResult, Visit, VisitResult
from cases.models import CaseState, ClockName, ClockState, Status
from starter.client import CaseError
from tests.support.factories import intake
from tests.support.lifecycle_helpers import (
    HOUR,
    RES,
    Cases,
    FailingWarehouse,
    advance_to,
    assert_breached,
    assert_gapless_trail,
    audit_trail,
    execution,
    notification_rows,
    refund_rows,
    running_cases,
    wait_notifications,
)

RW = ClockName.RETURN_WINDOW
INS = ClockName.INSPECTION
REP = ClockName.REPAIR
NR = ClockName.NEXT_REPLY
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def general_intake(**overrides: Any) -> Any:
    return intake(**({"order_amount": "2000.00"} | overrides))


def data_of(row: Any) -> dict[str, Any]:
    data = row["data"]
    return json.loads(data) if isinstance(data, str) else dict(data)


async def authorised_return(cases: Cases, kind: str = "return_refund", amount: str = "150") -> CaseState:
    opened, _ = await cases.open(general_intake())
    await cases.act(opened.case_id, "acknowledge", {"actor": "agent-1"})
    state = await cases.act(
        opened.case_id, "propose_resolution", {"actor": "agent-1", "type": kind, "amount": amount}
    )
    assert state.status == Status.AWAITING_RETURN
    return state


async def received(cases: Cases, state: CaseState) -> CaseState:
    case_id = state.case_id
    await cases.act(case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": "SF1029384756"})
    inspecting = await cases.act(case_id, "return_received", {"actor": "warehouse-sh"})
    assert inspecting.status == Status.INSPECTING
    return inspecting


async def test_return_refund_end_to_end(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await authorised_return(cases)
        case_id = state.case_id
        window = state.clocks[RW]
        authorised = window.started_at
        assert (window.due_at, window.warn_at) == (authorised + 7 * DAY, authorised + 5.6 * DAY)
        assert state.return_leg is not None and state.return_leg.rma == f"RMA-{case_id}-1"
        paused_res = state.clocks[RES]
        assert paused_res.state == ClockState.PAUSED

        # The reminder goes out at the warning instant, not a second before.
        await advance_to(env, authorised + 5.6 * DAY - SECOND)
        assert await notification_rows(pool, case_id, kind="return_reminder") == []
        await advance_to(env, authorised + 5.6 * DAY + SECOND)
        [reminder] = await wait_notifications(pool, case_id, 1, audience="customer", kind="return_reminder")
        assert state.return_leg.rma in reminder["subject"] + json.dumps(data_of(reminder))

        shipped = await cases.act(
            case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": "SF1029384756"}
        )
        assert shipped.status == Status.RETURN_IN_TRANSIT
        assert shipped.clocks[RW].state == ClockState.MET
        inspecting = await cases.act(case_id, "return_received", {"actor": "warehouse-sh"})
        receipt = inspecting.clocks[INS].started_at
        assert inspecting.clocks[INS].due_at == receipt + 72 * HOUR
        # The resolution clock counted nothing while the goods were away.
        res = inspecting.clocks[RES]
        assert res.state == ClockState.RUNNING
        assert res.due_at == receipt + timedelta(seconds=res.target_seconds - res.consumed_seconds)

        await cases.act(
            case_id,
            "inspection_result",
            {"actor": "inspector-2", "result": "passed", "notes": "as new", "evidence": ["IMG-1"]},
        )
        done = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        [refund] = await refund_rows(pool, case_id)
        assert (refund["key"], refund["amount"], refund["status"]) == (
            f"{case_id}:p1:refund", Decimal("150.00"), "executed",
        )
        assert done.resolution is not None
        assert done.resolution.proof == {"refund_reference": refund["reference"]}
        [result] = await wait_notifications(pool, case_id, 1, audience="customer", kind="result")
        assert data_of(result)["proof"] == {"refund_reference": refund["reference"]}
        trail = await assert_gapless_trail(pool, done)
        legs = [t for t, _ in trail if t.startswith(("return_", "inspection_", "resolution_"))]
        assert legs == [
            "resolution_proposed", "return_authorized", "return_shipped", "return_received",
            "inspection_result", "resolution_executed",
        ]


async def test_a_return_not_shipped_in_the_window_lapses(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await authorised_return(cases)
        case_id = state.case_id
        due = state.clocks[RW].due_at
        assert due is not None
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).status == Status.AWAITING_RETURN
        await advance_to(env, due + SECOND)
        lapsed = await cases.result(case_id)
        assert (lapsed.status, lapsed.closed_at) == (Status.LAPSED, due)
        assert_breached(lapsed.clocks[RW], due)
        assert lapsed.escalations == 0  # the customer's window: nobody missed a target
        await wait_notifications(pool, case_id, 1, audience="customer", kind="return_lapsed")
        assert await refund_rows(pool, case_id) == []
        status, _ = await execution(cases.client.client, cases.client.handle(case_id).id)
        assert status.name == "COMPLETED"


async def test_a_return_not_delivered_in_the_transit_window_escalates(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await authorised_return(cases)
        case_id = state.case_id
        parcel = {"carrier": "SF Express", "tracking_number": "SF5550001112"}
        shipped = await cases.act(case_id, "return_shipped", parcel)
        due = shipped.clocks[ClockName.RETURN_TRANSIT].due_at
        assert due is not None and due == shipped.clocks[ClockName.RETURN_TRANSIT].started_at + 7 * DAY
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).escalations == 0
        await advance_to(env, due + SECOND)
        late = await cases.wait(case_id, lambda s: s.escalations == 1, "escalated")
        assert_breached(late.clocks[ClockName.RETURN_TRANSIT], due)
        assert late.status == Status.RETURN_IN_TRANSIT  # still waiting for the parcel
        [notice] = await wait_notifications(pool, case_id, 1, audience="supervisor", kind="escalation")
        assert "return delivery SLA breached" in notice["subject"]


async def test_a_failed_inspection_goes_back_to_the_agent_with_the_evidence(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await received(cases, await authorised_return(cases))
        case_id = state.case_id
        failed = await cases.act(
            case_id,
            "inspection_result",
            {"result": "failed", "notes": "liquid damage inside", "evidence": ["IMG-7", "IMG-8"]},
        )
        assert (failed.status, failed.proposal) == (Status.ACKNOWLEDGED, None)
        assert failed.return_leg is not None and failed.return_leg.evidence == ["IMG-7", "IMG-8"]
        [notice] = await wait_notifications(pool, case_id, 1, audience="customer", kind="inspection_failed")
        assert notice["subject"] == "Your return did not pass inspection"
        events = [data_of(r) for r in await audit_trail(pool, case_id) if r["type"] == "inspection_result"]
        assert events == [
            {"result": "failed", "notes": "liquid damage inside", "evidence": ["IMG-7", "IMG-8"], "silent": False}
        ]
        assert await refund_rows(pool, case_id) == []


@pytest.mark.parametrize("silent", ["pass", "escalate"])
async def test_a_silent_warehouse_passes_or_escalates_at_the_window_end(env, pool, policy, silent) -> None:
    returns = policy.returns.model_copy(update={"silent_warehouse": silent})
    async with running_cases(env, pool, policy.model_copy(update={"returns": returns})) as cases:
        state = await received(cases, await authorised_return(cases))
        case_id = state.case_id
        due = state.clocks[INS].due_at
        assert due is not None
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).status == Status.INSPECTING
        await advance_to(env, due + SECOND)
        if silent == "pass":
            done = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
            assert_breached(done.clocks[INS], due)
            assert done.return_leg is not None and done.return_leg.passed_by_silence
            [refund] = await refund_rows(pool, case_id)
            assert refund["status"] == "executed"
        else:
            waiting = await cases.wait(case_id, lambda s: s.clocks[INS].breached_at is not None, "breach")
            assert waiting.status == Status.INSPECTING
            assert_breached(waiting.clocks[INS], due)
            escalations = await wait_notifications(pool, case_id, 1, audience="supervisor", kind="escalation")
            assert "inspection SLA breached" in escalations[-1]["subject"]
            assert await refund_rows(pool, case_id) == []


async def test_an_exchange_whose_shipment_fails_for_good_undoes_the_refund(env, pool, policy) -> None:
    warehouse = FailingWarehouse()
    async with running_cases(env, pool, policy, shipments=warehouse) as cases:
        state = await received(cases, await authorised_return(cases, kind="exchange", amount="150"))
        case_id = state.case_id
        await cases.act(case_id, "inspection_result", {"result": "passed"})
        failed = await cases.wait(
            case_id, lambda s: s.status == Status.ACKNOWLEDGED and s.escalations == 1, "resolution failed"
        )
        assert failed.proposal is None and failed.resolution is None
        [refund] = await refund_rows(pool, case_id)
        assert (refund["key"], refund["status"], refund["reversal_key"]) == (
            f"{case_id}:p1:refund", "reversed", f"{case_id}:p1:refund:undo",
        )
        assert len(warehouse.attempts) == 1  # a refusal is final: no retries
        [failure] = [data_of(r) for r in await audit_trail(pool, case_id) if r["type"] == "resolution_failed"]
        assert failure["step"] == "replacement" and "ShipmentFailed" in failure["error"]
        assert [(s["step"], s["compensated"]) for s in failure["compensated"]] == [("refund", True)]
        await wait_notifications(pool, case_id, 1, audience="supervisor", kind="escalation")


async def test_an_exchange_ships_after_the_pass_and_names_the_tracking(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await received(cases, await authorised_return(cases, kind="exchange", amount="0"))
        case_id = state.case_id
        await cases.act(case_id, "inspection_result", {"result": "passed"})
        done = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert await refund_rows(pool, case_id) == []  # no price difference, no money
        [shipment] = await pool.fetch("SELECT reference, status FROM shipments WHERE case_id = $1", case_id)
        assert done.resolution is not None
        assert done.resolution.proof == {"replacement_tracking": shipment["reference"]}
        [result] = await wait_notifications(pool, case_id, 1, audience="customer", kind="result")
        assert data_of(result)["proof"] == {"replacement_tracking": shipment["reference"]}


class FieldService:
    """Books repair visits; `late` books three days out, past the 48 h response target."""

    def __init__(self, late: bool = False) -> None:
        self.late = late
        self.booked: list[Visit] = []

    async def book(self, visit: Visit) -> VisitResult:
        self.booked.append(visit)
        when = visit.scheduled_for + (3 * DAY if self.late else timedelta(0))
        return VisitResult(key=visit.key, reference=f"RV-{len(self.booked)}", scheduled_for=when)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)


async def _repair(cases: Cases) -> CaseState:
    opened, _ = await cases.open(general_intake())
    await cases.act(opened.case_id, "acknowledge", {"actor": "agent-1"})
    state = await cases.act(opened.case_id, "propose_resolution", {"actor": "agent-1", "type": "repair"})
    assert state.status == Status.REPAIRING
    return state


async def test_a_repair_booked_in_time_and_fixed_carries_its_record(env, pool, policy) -> None:
    service = FieldService()
    async with running_cases(env, pool, policy, visits=service) as cases:
        state = await _repair(cases)
        case_id = state.case_id
        approved = state.clocks[REP].started_at
        booked = await cases.wait(case_id, lambda s: s.repair is not None and s.repair.booking is not None, "booked")
        assert booked.repair is not None and booked.repair.scheduled_for == approved + 24 * HOUR
        met = booked.clocks[REP]
        assert met.state == ClockState.MET and met.met_at is not None and met.met_at >= approved
        await wait_notifications(pool, case_id, 1, audience="customer", kind="repair_booked")
        fixed = await cases.act(case_id, "repair_result", {"result": "fixed", "repair_record": "RR-2026-0042"})
        assert fixed.status == Status.AWAITING_CONFIRMATION
        assert fixed.resolution is not None
        assert fixed.resolution.proof == {"repair_booking": "RV-1", "repair_record": "RR-2026-0042"}
        [result] = await wait_notifications(pool, case_id, 1, audience="customer", kind="result")
        assert data_of(result)["proof"]["repair_record"] == "RR-2026-0042"


async def test_a_late_booking_breaches_and_a_not_fixable_repair_becomes_an_exchange(env, pool, policy) -> None:
    async with running_cases(env, pool, policy, visits=FieldService(late=True)) as cases:
        state = await _repair(cases)
        case_id = state.case_id
        due = state.clocks[REP].due_at
        assert due is not None
        booked = await cases.wait(case_id, lambda s: s.repair is not None and s.repair.booking is not None, "booked")
        assert booked.clocks[REP].state == ClockState.RUNNING  # a slot after the target answers nothing
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).clocks[REP].breached_at is None
        await advance_to(env, due + SECOND)
        breached = await cases.wait(case_id, lambda s: s.clocks[REP].breached_at is not None, "breach")
        assert_breached(breached.clocks[REP], due)
        escalations = await wait_notifications(pool, case_id, 1, audience="supervisor", kind="escalation")
        assert "repair response SLA breached" in escalations[-1]["subject"]

        back = await cases.act(case_id, "repair_result", {"result": "not_fixable", "note": "board burnt"})
        assert (back.status, back.proposal) == (Status.ACKNOWLEDGED, None)
        assert back.clocks[RES].state in (ClockState.RUNNING, ClockState.WARNED)  # still counting
        exchange = await cases.act(case_id, "propose_resolution", {"type": "exchange", "amount": "0"})
        assert exchange.status == Status.AWAITING_RETURN
        assert exchange.proposal is not None and exchange.proposal.number == 2


async def test_the_next_reply_clock(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "acknowledge", {"actor": "agent-1"})

        first = await cases.act(case_id, "customer_message", {"text": "Where is my refund?"})
        t1 = first.clocks[NR].started_at
        assert first.clocks[NR].due_at == t1 + 24 * HOUR
        await advance_to(env, t1 + HOUR)
        second = await cases.act(case_id, "customer_message", {"text": "Hello?"})
        assert second.clocks[NR].due_at == t1 + 24 * HOUR  # the second message does not restart it
        replied = await cases.act(case_id, "agent_reply", {"actor": "agent-1", "text": "Checking now."})
        assert replied.clocks[NR].state == ClockState.MET

        await advance_to(env, t1 + 3 * HOUR)
        again = await cases.act(case_id, "customer_message", {"text": "Any news?"})
        clock = again.clocks[NR]
        t2 = clock.started_at
        assert (clock.turn, clock.due_at) == (1, t2 + 24 * HOUR)  # re-armed after the reply
        await advance_to(env, t2 + HOUR)
        asked = await cases.act(case_id, "request_info", {"actor": "agent-1", "question": "Order photo?"})
        paused_at = asked.clocks[NR].paused_at
        assert asked.clocks[NR].state == ClockState.PAUSED and paused_at is not None
        await advance_to(env, t2 + 6 * HOUR)
        answered = await cases.act(case_id, "customer_reply", {"text": "Here it is."})
        resumed = answered.clocks[NR]
        due = resumed.due_at
        assert resumed.running_since is not None and due is not None
        # The hours waiting on the customer did not count.
        assert due == resumed.running_since + (t2 + 24 * HOUR - paused_at)

        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).clocks[NR].breached_at is None
        await advance_to(env, due + SECOND)
        breached = await cases.wait(case_id, lambda s: s.clocks[NR].breached_at is not None, "breach")
        assert_breached(breached.clocks[NR], due)
        escalations = await wait_notifications(pool, case_id, 1, audience="supervisor", kind="escalation")
        assert "next reply SLA breached" in escalations[-1]["subject"]

    rows = await pool.fetch(
        "SELECT turn, state, met_at IS NOT NULL AS met FROM sla_clocks"
        " WHERE case_id = $1 AND clock = 'next_reply' ORDER BY turn",
        case_id,
    )
    assert [(r["turn"], r["state"], r["met"]) for r in rows] == [(0, "met", True), (1, "breached", False)]
    texts = [data_of(r).get("text") for r in await audit_trail(pool, case_id)]
    assert "Where is my refund?" in texts and "Checking now." in texts


async def test_new_actions_are_refused_where_they_do_not_fit(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake())
        case_id = opened.case_id
        for action, data in [
            ("return_shipped", {"carrier": "SF", "tracking_number": "SF12345678"}),
            ("return_received", {}),
            ("inspection_result", {"result": "passed"}),
            ("repair_result", {"result": "fixed", "repair_record": "RR-1"}),
        ]:
            with pytest.raises(CaseError, match=f"{action} is not allowed while the case is registered"):
                await cases.act(case_id, action, data)
        after = await cases.state(case_id)
        assert after.last_seq == state.last_seq and after.status == Status.REGISTERED
        with pytest.raises(CaseError, match="tracking_number"):
            await cases.act(case_id, "return_shipped", {"carrier": "SF", "tracking_number": "no spaces allowed"})
        with pytest.raises(CaseError, match="text"):
            await cases.act(case_id, "customer_message", {"text": "x" * 4001})
        assert (await cases.state(case_id)).last_seq == state.last_seq
