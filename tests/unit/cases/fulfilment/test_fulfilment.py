"""The return, inspection and repair legs and the conversation, on the pure machine: what each
new action changes, the clocks each leg starts, and what falls due at their instants. (The same
paths through the workflow, at the exact due instants, are in tests/integration/test_fulfilment.py.)
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from cases.core.moves import InvalidAction
from cases.fulfilment.actions import (
    AgentReply,
    CustomerMessage,
    InspectionResult,
    RepairResult,
    ReturnReceived,
    ReturnShipped,
)
from cases.fulfilment.models import InspectionOutcome, RepairOutcome
from cases.models import ClockName, ClockState, ExecutedStep, ProposeResolution, ResolutionType, Status
from tests.support.machine import (
    DAY,
    HOUR,
    MINUTE,
    RES,
    T0,
    US,
    assert_gapless,
    covers,
    frozen,
    general,
    machine_in,
    since,
)

RW = ClockName.RETURN_WINDOW
INS = ClockName.INSPECTION
REP = ClockName.REPAIR
NR = ClockName.NEXT_REPLY


def test_a_return_refund_authorises_the_return_and_pauses_the_handling_clocks(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_RETURN)
    s = m.state
    assert s.return_leg is not None and s.return_leg.rma == f"RMA-{s.case_id}-1"
    window = s.clocks[RW]
    assert (window.state, window.due_at, window.warn_at) == (
        ClockState.RUNNING, window.started_at + 7 * DAY, window.started_at + 0.8 * 7 * DAY,
    )
    assert s.clocks[RES].state == ClockState.PAUSED
    notice = m.notifications[-1]
    assert notice.kind == "return_authorized" and s.return_leg.rma in notice.body
    assert "Returns Centre" in notice.body


@covers("return_shipped")
def test_return_shipped_meets_the_return_window(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_RETURN)
    last = m.state.last_seq
    m.apply("return_shipped", ReturnShipped(carrier="SF", tracking_number="SF99887766"), t)
    s = m.state
    assert s.status == Status.RETURN_IN_TRANSIT
    assert s.return_leg is not None and s.return_leg.tracking_number == "SF99887766"
    assert (s.clocks[RW].state, s.clocks[RW].met_at) == (ClockState.MET, t)
    assert since(m, last) == [
        ("return_shipped", None), ("clock_met", "return_window"), ("clock_started", "return_transit"),
    ]
    assert s.clocks[RES].state == ClockState.PAUSED  # still with the carrier
    assert s.clocks[ClockName.RETURN_TRANSIT].due_at == t + 7 * DAY


def test_a_return_lost_in_transit_escalates_at_the_end_of_the_transit_window(policy) -> None:
    m, t = machine_in(policy, Status.RETURN_IN_TRANSIT)
    due = m.state.clocks[ClockName.RETURN_TRANSIT].due_at
    assert due is not None
    m.fire_due(due)
    assert m.state.status == Status.RETURN_IN_TRANSIT
    assert [e.data["reason"] for e in m.events if e.type == "escalated"] == ["return delivery SLA breached"]
    m.apply("return_received", ReturnReceived(), due + HOUR)
    transit = m.state.clocks[ClockName.RETURN_TRANSIT]
    assert (transit.state, transit.met_at) == (ClockState.BREACHED, due + HOUR)  # late, on record


@covers("return_received")
def test_return_received_starts_the_inspection_and_resumes_the_clocks(policy) -> None:
    m, t = machine_in(policy, Status.RETURN_IN_TRANSIT)
    last = m.state.last_seq
    m.apply("return_received", ReturnReceived(actor="warehouse-sh"), t)
    s = m.state
    assert s.status == Status.INSPECTING
    assert s.clocks[INS].due_at == t + 72 * HOUR
    assert s.clocks[RES].state == ClockState.RUNNING
    assert ("clock_started", "inspection") in since(m, last)
    assert ("clock_resumed", "resolution") in since(m, last)


@covers("inspection_result")
def test_a_passed_inspection_goes_on_to_the_refund_and_a_failed_one_back_to_the_agent(policy) -> None:
    passed, t = machine_in(policy, Status.INSPECTING)
    passed.apply("inspection_result", InspectionResult(result=InspectionOutcome.PASSED), t)
    assert passed.state.status == Status.RESOLVING
    assert passed.state.clocks[INS].state == ClockState.MET

    failed, t = machine_in(policy, Status.INSPECTING)
    data = InspectionResult(result=InspectionOutcome.FAILED, notes="water damage", evidence=["p1", "p2"])
    failed.apply("inspection_result", data, t)
    s = failed.state
    assert (s.status, s.proposal) == (Status.ACKNOWLEDGED, None)
    assert s.return_leg is not None and s.return_leg.evidence == ["p1", "p2"]
    assert failed.notifications[-1].kind == "inspection_failed"
    assert "water damage" in failed.notifications[-1].body


def test_a_failed_inspection_must_say_why() -> None:
    with pytest.raises(ValueError, match="notes: a failed inspection must say why"):
        InspectionResult(result=InspectionOutcome.FAILED)


@pytest.mark.parametrize("silent", ["pass", "escalate"])
def test_a_silent_warehouse_passes_or_escalates_as_the_policy_says(policy, silent) -> None:
    returns = policy.returns.model_copy(update={"silent_warehouse": silent})
    m, t = machine_in(policy.model_copy(update={"returns": returns}), Status.INSPECTING)
    due = m.state.clocks[INS].due_at
    assert due is not None
    m.fire_due(due - US)
    assert m.state.status == Status.INSPECTING
    m.fire_due(due)
    assert m.state.clocks[INS].breached_at == due
    reasons = [e.data["reason"] for e in m.events if e.type == "escalated"]
    if silent == "pass":
        assert m.state.status == Status.RESOLVING
        assert m.state.return_leg is not None and m.state.return_leg.passed_by_silence
        assert "inspection SLA breached" not in reasons
    else:
        assert m.state.status == Status.INSPECTING
        assert "inspection SLA breached" in reasons


def test_an_unshipped_return_lapses_at_the_end_of_the_window(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_RETURN)
    window = m.state.clocks[RW]
    assert window.warn_at is not None and window.due_at is not None
    due = window.due_at
    m.fire_due(window.warn_at)
    assert m.notifications[-1].kind == "return_reminder"
    assert m.state.escalation_level == 3  # the customer's window: nobody is escalated
    m.fire_due(due - US)
    assert m.state.status == Status.AWAITING_RETURN
    m.fire_due(due)
    s = m.state
    assert (s.status, s.closed_at) == (Status.LAPSED, due)
    assert m.notifications[-1].kind == "return_lapsed"
    assert m.next_wake() is None
    assert_gapless(m)


@covers("repair_result")
def test_a_repair_is_booked_within_its_response_target_and_fixed_with_a_record(policy) -> None:
    m, t = machine_in(policy, Status.REPAIRING)
    clock = m.state.clocks[REP]
    assert clock.due_at == clock.started_at + 48 * HOUR
    when = m.repair_visit_due(t)
    assert when == m.state.clocks[REP].started_at + 24 * HOUR
    assert m.state.repair is not None
    assert m.repair_booked(m.state.repair, "RV-1", when, t)
    assert m.state.clocks[REP].state == ClockState.MET
    m.apply("repair_result", RepairResult(result=RepairOutcome.FIXED, repair_record="RR-7"), t + DAY)
    s = m.state
    assert s.status == Status.AWAITING_CONFIRMATION
    assert s.resolution is not None
    assert s.resolution.proof == {"repair_booking": "RV-1", "repair_record": "RR-7"}
    assert "repair record RR-7" in m.notifications[-1].body


def test_a_repair_not_fixable_goes_back_for_an_exchange_with_the_clocks_running(policy) -> None:
    m, t = machine_in(policy, Status.REPAIRING)
    assert m.state.repair is not None
    m.repair_booked(m.state.repair, "RV-1", m.repair_visit_due(t), t)
    m.apply("repair_result", RepairResult(result=RepairOutcome.NOT_FIXABLE), t + DAY)
    assert (m.state.status, m.state.proposal) == (Status.ACKNOWLEDGED, None)
    assert m.state.clocks[RES].state == ClockState.RUNNING
    exchange = ProposeResolution(actor="agent-1", type=ResolutionType.EXCHANGE, amount=Decimal("0"))
    m.apply("propose_resolution", exchange, t + DAY + MINUTE)
    assert m.state.status == Status.AWAITING_RETURN


def test_refund_only_needs_a_lost_parcel_a_low_value_or_a_waiver(policy) -> None:
    m = general(policy)
    before = frozen(m)
    plain = ProposeResolution(type=ResolutionType.REFUND_ONLY, amount=Decimal("100"))
    with pytest.raises(InvalidAction, match="refund_only needs a lost parcel"):
        m.apply("propose_resolution", plain, T0 + MINUTE)
    assert frozen(m) == before
    waived = plain.model_copy(update={"waive_return": True, "note": "item is hazardous to ship"})
    m.apply("propose_resolution", waived, T0 + MINUTE)
    assert m.state.status == Status.RESOLVING
    cheap = general(policy, order_amount="40.00")
    cheap.apply("propose_resolution", plain.model_copy(update={"amount": Decimal("40")}), T0 + MINUTE)
    assert cheap.state.status == Status.RESOLVING


def test_an_exchange_refunds_the_difference_and_its_proof_names_the_tracking(policy) -> None:
    m, t = machine_in(policy, Status.RESOLVING)
    m.resolution_executed(
        [ExecutedStep(step="refund", reference="RF-1"), ExecutedStep(step="replacement", reference="SH-1")], t
    )
    assert m.state.resolution is not None
    assert m.state.resolution.proof == {"refund_reference": "RF-1", "replacement_tracking": "SH-1"}


@covers("customer_message")
def test_a_customer_message_starts_the_next_reply_clock_once(policy) -> None:
    m, t = machine_in(policy, Status.ACKNOWLEDGED)
    m.apply("customer_message", CustomerMessage(text="Any news?"), t)
    clock = m.state.clocks[NR]
    assert (clock.due_at, clock.turn) == (t + 24 * HOUR, 0)
    m.apply("customer_message", CustomerMessage(text="Hello?"), t + HOUR)
    assert m.state.clocks[NR].due_at == t + 24 * HOUR  # not restarted
    assert [e.type for e in m.events].count("customer_message") == 2


@covers("agent_reply")
def test_an_agent_reply_meets_the_next_reply_and_the_first_response(policy) -> None:
    m = general(policy)
    m.apply("customer_message", CustomerMessage(text="Any news?"), T0 + MINUTE)
    m.apply("agent_reply", AgentReply(actor="agent-2", text="Checking now."), T0 + HOUR)
    s = m.state
    assert (s.status, s.handler, s.first_response_at) == (Status.ACKNOWLEDGED, "agent-2", T0 + HOUR)
    assert s.clocks[ClockName.FIRST_RESPONSE].state == ClockState.MET
    assert s.clocks[NR].state == ClockState.MET
    assert m.notifications[-1].body == "Checking now."
    # The next message starts a new turn; the answered one is kept for the record.
    m.apply("customer_message", CustomerMessage(text="Thanks, and?"), T0 + 2 * HOUR)
    assert m.state.clocks[NR].turn == 1 and m.state.clocks[NR].state == ClockState.RUNNING
    assert [r.clock.turn for r in m.retired_clocks if r.clock.name == NR] == [0]


def test_a_vip_customer_is_owed_a_reply_within_fifteen_minutes(policy) -> None:
    m = general(policy, customer_tier="vip")
    m.apply("customer_message", CustomerMessage(text="Hello?"), T0 + MINUTE)
    assert m.state.clocks[NR].due_at == T0 + MINUTE + 15 * MINUTE
    urgent = general(policy, category="safety")
    urgent.apply("customer_message", CustomerMessage(text="It smokes"), T0 + MINUTE)
    assert urgent.state.clocks[NR].due_at == T0 + MINUTE + HOUR


def test_a_compensation_names_its_coupon_code(policy) -> None:
    m = general(policy)
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.COMPENSATION, amount=Decimal("20")), T0)
    m.resolution_executed([ExecutedStep(step="credit", reference="CP-20-XYZ")], T0 + MINUTE)
    assert m.state.resolution is not None and m.state.resolution.proof == {"coupon_code": "CP-20-XYZ"}
    assert "coupon code CP-20-XYZ" in m.notifications[-1].body


def test_a_booking_that_lands_after_the_result_is_not_wanted(policy) -> None:
    m, t = machine_in(policy, Status.REPAIRING)
    job = m.state.repair
    assert job is not None
    m.apply("repair_result", RepairResult(result=RepairOutcome.FIXED, repair_record="RR-1"), t)
    assert not m.repair_booked(job, "RV-9", t + HOUR, t + MINUTE)  # the workflow cancels it
    assert m.state.status == Status.AWAITING_CONFIRMATION
    m.repair_booking_failed(job, "VisitUnavailable: no slot", t + 2 * MINUTE)
    assert m.state.status == Status.AWAITING_CONFIRMATION  # a late failure changes nothing
    assert [e.type for e in m.events].count("repair_booking_superseded") == 2


def test_a_failed_booking_stops_the_repair_clock_and_goes_back_to_the_agent(policy) -> None:
    m, t = machine_in(policy, Status.REPAIRING)
    job = m.state.repair
    assert job is not None
    m.repair_booking_failed(job, "VisitUnavailable: no slot", t)
    assert (m.state.status, m.state.proposal) == (Status.ACKNOWLEDGED, None)
    assert m.state.clocks[REP].stopped_at == t and m.next_wake() is not None
    due = m.state.clocks[REP].started_at + 48 * HOUR
    m.fire_due(due)
    assert "repair response SLA breached" not in [e.data.get("reason") for e in m.events]


def test_a_second_return_is_not_asked_for_goods_that_passed(policy) -> None:
    m, t = machine_in(policy, Status.INSPECTING)
    m.apply("inspection_result", InspectionResult(result=InspectionOutcome.PASSED), t)
    m.resolution_failed("refund", "RefundDeclined: account closed", [], t + MINUTE)
    again = ProposeResolution(actor="agent-1", type=ResolutionType.EXCHANGE, amount=Decimal("0"))
    m.apply("propose_resolution", again, t + HOUR)
    assert m.state.status == Status.RESOLVING
    assert m.state.return_leg is not None and m.state.return_leg.rma.endswith("-1")


def test_a_lost_parcel_can_be_refunded_once_the_transit_window_breaches(policy) -> None:
    m, t = machine_in(policy, Status.RETURN_IN_TRANSIT)
    due = m.state.clocks[ClockName.RETURN_TRANSIT].due_at
    assert due is not None
    m.fire_due(due)
    assert m.state.clocks[RES].state != ClockState.PAUSED  # the merchant's problem now
    lost = ProposeResolution(
        actor="agent-1", type=ResolutionType.REFUND_ONLY, amount=Decimal("100"),
        waive_return=True, note="parcel lost by the carrier",
    )
    m.apply("propose_resolution", lost, due + HOUR)
    s = m.state
    assert s.status == Status.RESOLVING
    assert s.clocks[ClockName.RETURN_TRANSIT].breached_at == due
    assert "return_abandoned" in [e.type for e in m.events]


def test_a_shipping_notice_after_the_window_finds_the_return_lapsed(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_RETURN)
    due = m.state.clocks[RW].due_at
    assert due is not None
    with pytest.raises(InvalidAction, match="return_shipped is not allowed while the case is lapsed"):
        m.apply("return_shipped", ReturnShipped(carrier="SF", tracking_number="SF12345678"), due + MINUTE)
    assert m.state.status == Status.LAPSED and m.state.closed_at == due


def test_an_owed_reply_keeps_counting_while_the_goods_come_back(policy) -> None:
    m, t = machine_in(policy, Status.ACKNOWLEDGED)
    m.apply("customer_message", CustomerMessage(text="Can I return it?"), t)
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.RETURN_REFUND, amount=Decimal("100")), t)
    assert m.state.status == Status.AWAITING_RETURN
    assert m.state.clocks[NR].state == ClockState.RUNNING
    assert m.state.clocks[RES].state == ClockState.PAUSED
