"""The buyer's request and the merchant's duties, on the pure machine: who answers, what silence
decides, and a merchant's rejection of what the law entitles refused with the case unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from cases.core.machine import CaseMachine
from cases.core.moves import InvalidAction, NotAuthorized
from cases.fulfilment.actions import InspectionResult, ReturnDelivered, ReturnReceived, ReturnShipped
from cases.models import ClockName, ClockState, Dispute, ProposeResolution, RequestInfo, ResolutionType, Status
from cases.platform.actions import MerchantAnswer, RemedyRequest
from cases.platform.models import Answer, ItemRepairs, OrderFacts
from cases.policy.snapshot import Policy
from tests.support.factories import intake
from tests.support.machine import DAY, HOUR, MINUTE, T0, covers, executed, general, snapshot_for

SECOND = timedelta(seconds=1)
SIGNED = T0 - DAY
ANSWER = ClockName.MERCHANT_ANSWER
DELIVERED = ClockName.DELIVERED_RETURN


def request(remedy: str, reason: str = "no_reason", **facts: Any) -> dict[str, Any]:
    return {"remedy": remedy, "reason": reason, "order": {"signed_at": SIGNED.isoformat()} | facts}


def asked(policy: Policy, remedy: str, reason: str = "no_reason", **facts: Any) -> CaseMachine:
    """A case opened with the buyer's request at intake."""
    return general(policy, request=request(remedy, reason, **facts))


def answer_due(m: CaseMachine) -> datetime:
    due = m.state.clocks[ANSWER].due_at
    assert due is not None
    return due


@covers("request_remedy")
def test_a_request_at_intake_is_read_against_the_law_and_starts_the_merchants_clock(policy: Policy) -> None:
    m = asked(policy, "return_refund")
    req = m.state.request
    assert req is not None and req.pending
    assert req.eligibility.rule == "no_reason_return"
    assert req.amount == Decimal("2000.00")  # the order amount
    assert answer_due(m) == T0 + 48 * HOUR
    made = [e for e in m.events if e.type == "remedy_requested"]
    assert made[0].data["rule"] == "no_reason_return" and made[0].data["at_open"] is True
    assert "request_received" in [n.kind for n in m.notifications]


@covers("request_remedy")
def test_a_request_on_an_open_case_states_its_facts(policy: Policy) -> None:
    m = general(policy)
    data = RemedyRequest.model_validate(request("refund_only", "not_received") | {"amount": "120.00"})
    m.apply("request_remedy", data, T0 + HOUR)
    req = m.state.request
    assert req is not None and req.amount == Decimal("120.00") and req.eligibility.rule is None
    assert m.state.order is not None and m.state.order.signed_at == SIGNED
    with pytest.raises(InvalidAction, match="still waits"):
        m.check("request_remedy", data)
    with pytest.raises(InvalidAction, match="exceeds the order amount"):
        too_much = RemedyRequest(remedy="refund_only", reason="other", amount=Decimal("9999"))
        general(policy).check("request_remedy", too_much)


def test_silence_on_a_refund_only_request_refunds_once_at_the_due_instant(policy: Policy) -> None:
    m = asked(policy, "refund_only", "not_received")
    due = answer_due(m)
    m.fire_due(due - SECOND)
    assert m.state.request is not None and m.state.request.pending
    m.fire_due(due)
    assert m.state.status == Status.RESOLVING
    assert m.state.request.answer == Answer.AGREED_BY_SILENCE
    proposal = m.state.proposal
    assert proposal is not None and proposal.type == ResolutionType.REFUND_ONLY
    assert proposal.amount == Decimal("2000.00")
    assert m.state.clocks[ANSWER].state == ClockState.BREACHED
    assert [e.type for e in m.events].count("request_agreed_by_silence") == 1
    m.resolution_executed(executed("refund"), due + MINUTE)
    assert m.state.status == Status.AWAITING_CONFIRMATION
    seq = m.state.last_seq
    m.fire_due(due + HOUR)
    assert m.state.last_seq == seq  # nothing fires twice


def test_silence_on_a_return_request_authorises_the_return_to_the_merchants_address(policy: Policy) -> None:
    m = asked(policy, "return_refund")
    due = answer_due(m)
    m.fire_due(due - SECOND)
    assert m.state.status == Status.REGISTERED
    m.fire_due(due)
    assert m.state.status == Status.AWAITING_RETURN
    leg = m.state.return_leg
    assert leg is not None and leg.address == policy.returns.address
    assert ClockName.RETURN_WINDOW in m.state.clocks


@covers("answer_request")
def test_a_merchants_rejection_of_an_eligible_request_is_refused_and_the_case_unchanged(policy: Policy) -> None:
    m = asked(policy, "return_refund")
    before = m.state.model_copy(deep=True)
    with pytest.raises(NotAuthorized, match="Consumer Rights Protection Law art. 25"):
        m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="reject", reason="no"), T0 + HOUR)
    after = m.state
    trail = {"last_seq"}  # the refused attempt is in the audit trail, and nothing else changed
    assert after.model_dump(exclude=trail) == before.model_dump(exclude=trail)
    assert m.events[-1].type == "rejection_refused" and m.events[-1].data["rule"] == "no_reason_return"


@covers("answer_request")
def test_a_rejection_of_a_request_the_law_does_not_entitle_is_the_merchants_to_make(policy: Policy) -> None:
    m = asked(policy, "return_refund", goods_class="perishable")
    m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="reject", reason="fresh food"), T0 + HOUR)
    req = m.state.request
    assert req is not None and req.answer == Answer.REJECTED and req.rejection == "fresh food"
    assert m.state.clocks[ANSWER].state == ClockState.MET
    assert m.state.first_response_at == T0 + HOUR
    m.fire_due(T0 + 3 * DAY)
    assert m.state.proposal is None and m.state.status == Status.REGISTERED


@covers("answer_request")
def test_an_agreement_starts_the_plan_the_buyer_asked_for(policy: Policy) -> None:
    m = asked(policy, "refund_only", "not_received")
    with pytest.raises(InvalidAction, match="answer_request first"):
        m.check("propose_resolution", ProposeResolution(actor="agent-1", type="explanation"))
    m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="agree"), T0 + HOUR)
    assert m.state.status == Status.RESOLVING
    assert m.state.review is not None and m.state.review.by == "merchant-agent"
    assert m.state.proposal is not None and m.state.proposal.proposed_by == "customer"
    with pytest.raises(InvalidAction, match="not allowed while the case is resolving"):
        m.check("answer_request", MerchantAnswer(decision="agree"))
    with pytest.raises(InvalidAction, match="no buyer request"):
        general(policy).check("answer_request", MerchantAnswer(decision="agree"))


def test_the_merchants_answer_clock_does_not_pause_while_staff_wait_on_the_buyer(policy: Policy) -> None:
    m = asked(policy, "refund_only", "not_received")
    m.apply("request_info", RequestInfo(actor="agent-1", question="Photo please"), T0 + HOUR)
    assert m.state.clocks[ClockName.FIRST_RESPONSE].paused_at is None  # met by the question
    assert m.state.clocks[ClockName.RESOLUTION].paused_at is not None
    assert m.state.clocks[ANSWER].paused_at is None and answer_due(m) == T0 + 48 * HOUR


def returned(policy: Policy) -> CaseMachine:
    """A return the merchant agreed to, shipped and delivered by the carrier at T0 + 3 days."""
    m = asked(policy, "return_refund")
    m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="agree"), T0 + HOUR)
    m.apply("return_shipped", ReturnShipped(carrier="SF", tracking_number="SF1234567"), T0 + DAY)
    m.apply("return_delivered", ReturnDelivered(), T0 + 3 * DAY)
    return m


@covers("return_delivered")
def test_silence_after_delivery_passes_the_goods_and_refunds_at_the_due_instant(policy: Policy) -> None:
    m = returned(policy)
    due = m.state.clocks[DELIVERED].due_at
    assert due == T0 + 10 * DAY
    # The merchant's warehouse never logs the parcel, nor inspects it.
    m.fire_due(due - SECOND)
    assert m.state.status == Status.RETURN_IN_TRANSIT
    m.fire_due(due)
    assert m.state.status == Status.RESOLVING
    leg = m.state.return_leg
    assert leg is not None and leg.passed_by_silence and m.state.clocks[DELIVERED].state == ClockState.BREACHED


def test_a_warehouse_silent_past_its_own_72_hours_meets_the_duty_first(policy: Policy) -> None:
    m = returned(policy)
    m.apply("return_received", ReturnReceived(), T0 + 4 * DAY)
    m.fire_due(T0 + 7 * DAY)  # 72 h after receipt: the shipped policy passes the goods
    assert m.state.status == Status.RESOLVING
    assert m.state.clocks[DELIVERED].state == ClockState.MET
    with pytest.raises(InvalidAction, match="already delivered"):
        returned(policy).check("return_delivered", ReturnDelivered())


def test_a_failed_inspection_of_a_delivered_return_needs_evidence(policy: Policy) -> None:
    m = returned(policy)
    m.apply("return_received", ReturnReceived(), T0 + 4 * DAY)
    bare = InspectionResult(result="failed", notes="scratched")
    with pytest.raises(InvalidAction, match="evidence"):
        m.check("inspection_result", bare)
    m.apply("inspection_result", bare.model_copy(update={"evidence": ["photo-1"]}), T0 + 5 * DAY)
    assert m.state.clocks[DELIVERED].state == ClockState.MET
    m.fire_due(T0 + 11 * DAY)
    assert m.state.status == Status.ACKNOWLEDGED and m.state.clocks[DELIVERED].breached_at is None


def test_the_third_claim_on_an_item_repaired_twice_is_offered_exchange_or_return(policy: Policy) -> None:
    facts = {"three_guarantees": True, "warranty_ends": "2027-03-01", "sku": "SKU-1", "serial": "SN-9"}
    data = intake(order_amount="2000.00", request=request("exchange", "quality_fault", **facts) | {
        "order": {"signed_at": (T0 - 60 * DAY).isoformat()} | facts})
    assert data.case_id is not None
    twice = ItemRepairs(sku="SKU-1", serial="SN-9", repairs=2)
    m = CaseMachine.open(data.case_id, data, snapshot_for(policy, T0), T0, item_repairs=twice)
    req = m.state.request
    assert req is not None and req.eligibility.rule == "three_guarantees_after_repairs"
    assert [e.data["prior_repairs"] for e in m.events if e.type == "remedy_requested"] == [2]
    once = CaseMachine.open(
        data.case_id, data, snapshot_for(policy, T0), T0, item_repairs=twice.model_copy(update={"repairs": 1})
    )
    assert once.state.request is not None and once.state.request.eligibility.rule is None


@pytest.mark.parametrize(
    ("order_amount", "request_data", "named"),
    [
        ("100.00", {"remedy": "refund_only", "reason": "other", "amount": "100.01"}, "exceeds the order amount"),
        ("0", {"remedy": "refund_only", "reason": "other"}, "needs an amount above 0"),
    ],
)
def test_an_intake_whose_request_asks_more_than_the_order_is_refused_naming_the_field(
    order_amount: str, request_data: dict[str, Any], named: str
) -> None:
    # The merchant's silence pays what the request asks: a raw intake must not ask beyond the order.
    with pytest.raises(ValidationError, match=f"request.amount: .*{named}"):
        intake(order_amount=order_amount, request=request_data)


def test_an_exchange_or_repair_request_moves_no_money(policy: Policy) -> None:
    with pytest.raises(ValidationError, match="request.amount: exchange moves goods, not money"):
        intake(order_amount="300.00", request={"remedy": "exchange", "reason": "other", "amount": "300"})
    m = general(policy)
    with pytest.raises(InvalidAction, match="request_remedy.amount: repair moves goods"):
        m.check("request_remedy", RemedyRequest(remedy="repair", reason="quality_fault", amount=Decimal("1")))


def test_whoever_made_the_request_cannot_answer_it(policy: Policy) -> None:
    m = general(policy)
    m.apply("request_remedy", RemedyRequest(actor="backend-1", remedy="refund_only", reason="other",
                                            amount=Decimal("50")), T0)
    with pytest.raises(NotAuthorized, match="four-eyes"):
        m.check("answer_request", MerchantAnswer(actor="backend-1", decision="agree"))


def test_a_later_request_asks_at_most_what_earlier_rounds_left_unpaid(policy: Policy) -> None:
    m = asked(policy, "refund_only", "not_received")
    due = answer_due(m)
    m.fire_due(due)
    m.resolution_executed(executed("refund"), due + MINUTE)
    assert m.state.paid_out == Decimal("2000.00")
    m.apply("dispute", Dispute(reason="still nothing"), due + HOUR)
    again = RemedyRequest(remedy="refund_only", reason="not_received")
    with pytest.raises(InvalidAction, match="needs an amount above 0 less the 2000.00 already paid"):
        m.check("request_remedy", again)


@pytest.mark.parametrize("signed", ["9999-12-31T00:00:00+08:00", "1970-01-01T00:00:00Z"])
def test_implausible_dates_are_refused_naming_the_field(signed: str) -> None:
    with pytest.raises(ValidationError, match="signed_at"):
        OrderFacts.model_validate({"signed_at": signed})
    with pytest.raises(ValidationError, match="warranty_ends"):
        OrderFacts.model_validate({"warranty_ends": "9999-12-31"})


def test_a_new_plan_after_delivery_ends_the_duty_and_its_silence_pays_nothing(policy: Policy) -> None:
    m = returned(policy)
    due = m.state.clocks[DELIVERED].due_at
    assert due is not None
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type="refund_only", amount=Decimal("1500"),
                                                    waive_return=True, note="lost in the warehouse"), T0 + 4 * DAY)
    assert m.state.status == Status.AWAITING_APPROVAL
    assert m.state.clocks[DELIVERED].stopped_at == T0 + 4 * DAY
    m.fire_due(due + SECOND)
    assert m.state.status == Status.AWAITING_APPROVAL and m.state.review is None


def test_the_merchant_may_answer_while_staff_wait_on_the_buyer_and_the_plan_goes_on(policy: Policy) -> None:
    m = asked(policy, "refund_only", "not_received")
    m.apply("request_info", RequestInfo(actor="agent-1", question="Which address?"), T0 + HOUR)
    m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="agree"), T0 + 2 * HOUR)
    assert m.state.status == Status.RESOLVING
    assert m.state.clocks[ClockName.RESOLUTION].paused_at is None


def test_a_warehouse_scan_before_the_carriers_word_starts_the_duty(policy: Policy) -> None:
    m = asked(policy, "return_refund")
    m.apply("answer_request", MerchantAnswer(actor="merchant-agent", decision="agree"), T0 + HOUR)
    m.apply("return_received", ReturnReceived(), T0 + 2 * DAY)
    assert m.state.clocks[DELIVERED].due_at == T0 + 9 * DAY
    m.apply("return_delivered", ReturnDelivered(), T0 + 3 * DAY)  # the carrier's word, late
    assert m.state.clocks[DELIVERED].due_at == T0 + 9 * DAY
