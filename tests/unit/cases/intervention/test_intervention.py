"""The platform steps in, on the pure machine: when the buyer may ask, the evidence windows, the
ruling and its second arbiter, carrying it out or the platform paying first, and the appeal."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cases.core.machine import CaseMachine
from cases.core.moves import InvalidAction, NotAuthorized
from cases.intervention.actions import (
    Appeal,
    AskIntervention,
    CarryOutRuling,
    ConfirmRuling,
    RequestEvidence,
    Rule,
    SubmitEvidence,
)
from cases.intervention.models import Stage
from cases.models import ClockName, ClockState, Dispute, ProposeResolution, Status, Withdraw
from cases.platform.actions import MerchantAnswer, RemedyRequest
from cases.policy.snapshot import Policy
from cases.views.progress import customer_progress
from tests.support.machine import DAY, HOUR, MINUTE, T0, covers, executed, general, shanghai

SECOND = timedelta(seconds=1)
ARBITER = {"role": "arbiter"}


def rejected(policy: Policy, amount: str = "2000.00", **overrides: Any) -> CaseMachine:
    """Perishable goods: the law does not entitle the return, and the merchant rejects it at T0 + 1 h."""
    order = {"signed_at": (T0 - DAY).isoformat(), "goods_class": "perishable"}
    m = general(policy, order_amount=amount, request={"remedy": "return_refund", "reason": "no_reason",
                                                      "order": order}, **overrides)
    m.apply("answer_request", MerchantAnswer(actor="merchant-1", decision="reject", reason="fresh food"), T0 + HOUR)
    return m


def asked(policy: Policy, amount: str = "2000.00", at: datetime = T0 + DAY) -> CaseMachine:
    m = rejected(policy, amount)
    m.apply("ask_intervention", AskIntervention(reason="it arrived rotten", references=["IMG-1"]), at)
    return m


def hearing(policy: Policy, amount: str = "2000.00") -> CaseMachine:
    m = asked(policy, amount)
    m.apply("submit_evidence", SubmitEvidence(actor="merchant-1", party="merchant", text="shipped fresh"),
            T0 + DAY + HOUR)
    return m


def due(m: CaseMachine, name: ClockName) -> datetime:
    at = m.state.clocks[name].due_at
    assert at is not None
    return at


@covers("ask_intervention")
def test_the_buyer_may_ask_within_15_days_of_the_rejection(policy: Policy) -> None:
    ends = T0 + HOUR + 15 * DAY
    late = rejected(policy)
    with pytest.raises(InvalidAction, match="window after the merchant's rejection ended"):
        late.check("ask_intervention", AskIntervention(reason="please"), ends)
    m = rejected(policy)
    m.check("ask_intervention", AskIntervention(reason="please"), ends - SECOND)
    m.apply("ask_intervention", AskIntervention(reason="please"), ends - SECOND)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.EVIDENCE and found.party.value == "buyer"
    assert due(m, ClockName.INTERVENTION_EVIDENCE) == ends - SECOND + DAY
    with pytest.raises(InvalidAction, match="already stepped in"):
        m.check("ask_intervention", AskIntervention(reason="again"))


def test_an_unsettled_request_may_go_to_the_platform_after_a_day(policy: Policy) -> None:
    m = general(policy, request={"remedy": "refund_only", "reason": "not_received"})
    with pytest.raises(InvalidAction, match="not yet unsettled"):
        m.check("ask_intervention", AskIntervention(reason="no answer"), T0 + DAY - SECOND)
    m.check("ask_intervention", AskIntervention(reason="no answer"), T0 + DAY)
    with pytest.raises(InvalidAction, match="there is none"):
        general(policy).check("ask_intervention", AskIntervention(reason="no request"), T0 + 2 * DAY)


@covers("submit_evidence")
def test_the_merchants_silence_past_24_hours_goes_to_the_arbiter_on_what_there_is(policy: Policy) -> None:
    m = asked(policy)
    ends = due(m, ClockName.INTERVENTION_EVIDENCE)
    m.fire_due(ends - SECOND)
    assert m.state.intervention is not None and m.state.intervention.stage == Stage.EVIDENCE
    m.fire_due(ends)
    assert m.state.intervention.stage == Stage.HEARING
    assert m.state.clocks[ClockName.INTERVENTION_EVIDENCE].state == ClockState.BREACHED
    assert [e.data for e in m.events if e.type == "evidence_closed"] == [{"party": "merchant", "silent": True}]
    answered = hearing(policy)
    assert answered.state.intervention is not None and answered.state.intervention.stage == Stage.HEARING
    assert answered.state.clocks[ClockName.INTERVENTION_EVIDENCE].state == ClockState.MET


@covers("request_evidence")
def test_four_working_hours_asked_on_a_friday_evening_end_on_monday(policy: Policy) -> None:
    m = hearing(policy)
    friday = shanghai(2026, 3, 6, 17)  # 1 working hour left that day
    m.apply("request_evidence", RequestEvidence(actor="arbiter-1", party="buyer", question="A photo?", **ARBITER),
            friday)
    assert due(m, ClockName.BUYER_MORE_EVIDENCE) == shanghai(2026, 3, 9, 12)  # 17-18 Fri, 09-12 Mon
    with pytest.raises(NotAuthorized, match="arbiter"):
        m.check("request_evidence", RequestEvidence(actor="agent-1", party="merchant", question="?"))
    m.fire_due(shanghai(2026, 3, 9, 12) - SECOND)
    assert m.state.intervention is not None and m.state.intervention.awaited
    m.fire_due(shanghai(2026, 3, 9, 12))
    assert m.state.intervention.awaited == []


@covers("rule", "confirm_ruling")
def test_a_ruling_over_2000_needs_a_second_arbiter(policy: Policy) -> None:
    m = hearing(policy, amount="3000.00")
    ruling = Rule(actor="arbiter-1", decision="refund", amount=Decimal("2500"), reason="rotten on arrival", **ARBITER)
    m.apply("rule", ruling, T0 + 2 * DAY)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.SECOND_ARBITER and found.ruling is None
    with pytest.raises(NotAuthorized, match="a second arbiter must confirm"):
        m.check("confirm_ruling", ConfirmRuling(actor="arbiter-1", **ARBITER))
    m.apply("confirm_ruling", ConfirmRuling(actor="arbiter-2", **ARBITER), T0 + 2 * DAY + HOUR)
    assert found.stage == Stage.CARRYING_OUT and found.ruling is not None
    assert found.ruling.confirmed_by == "arbiter-2" and found.arbiters == ["arbiter-1", "arbiter-2"]
    small = hearing(policy)
    small.apply("rule", ruling.model_copy(update={"amount": Decimal("2000")}), T0 + 2 * DAY)
    assert small.state.intervention is not None and small.state.intervention.stage == Stage.CARRYING_OUT


@covers("carry_out_ruling")
def test_a_ruling_the_merchant_carries_out_starts_its_plan(policy: Policy) -> None:
    m = hearing(policy)
    m.apply("rule", Rule(actor="arbiter-1", decision="refund", amount=Decimal("500"), reason="r", **ARBITER),
            T0 + 2 * DAY)
    m.apply("carry_out_ruling", CarryOutRuling(actor="merchant-1"), T0 + 2 * DAY + HOUR)
    assert m.state.status == Status.RESOLVING
    proposal = m.state.proposal
    assert proposal is not None and proposal.payer is None and proposal.amount == Decimal("500")
    assert m.state.intervention is not None and m.state.intervention.stage == Stage.CARRIED_OUT


def test_a_ruling_not_carried_out_is_paid_by_the_platform_and_a_late_merchant_refund_settles_it(
    policy: Policy,
) -> None:
    m = hearing(policy)
    m.apply("rule", Rule(actor="arbiter-1", decision="refund", amount=Decimal("500"), reason="r", **ARBITER),
            T0 + 2 * DAY)
    ends = due(m, ClockName.RULING_CARRY_OUT)
    m.fire_due(ends - SECOND)
    assert m.state.status != Status.RESOLVING
    m.fire_due(ends)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.PLATFORM_PAID and found.platform_paid == 0
    assert m.state.status == Status.RESOLVING and m.state.proposal is not None
    assert m.state.proposal.payer == "platform"
    m.resolution_executed(executed("platform_refund"), ends + MINUTE)
    assert m.state.paid_out == Decimal("500") and found.platform_paid == Decimal("500")
    m.apply("dispute", Dispute(reason="and the delivery fee?"), ends + 2 * MINUTE)
    with pytest.raises(InvalidAction, match="exceeds the order amount 2000.00 less the 500"):
        m.check("propose_resolution", ProposeResolution(actor="agent-1", type="refund", amount=Decimal("1600")))
    m.apply("carry_out_ruling", CarryOutRuling(actor="merchant-1"), ends + HOUR)
    assert found.recovery_settled and m.state.paid_out == Decimal("500")  # nobody paid twice
    assert [e.data["amount"] for e in m.events if e.type == "recovery_settled"] == ["500"]
    with pytest.raises(InvalidAction, match="no ruling waits"):
        m.check("carry_out_ruling", CarryOutRuling(actor="merchant-1"))


@covers("appeal")
def test_the_appeal_window_and_the_different_arbiter(policy: Policy) -> None:
    m = hearing(policy)
    m.apply("rule", Rule(actor="arbiter-1", decision="reject", reason="not rotten", **ARBITER), T0 + 2 * DAY)
    ends = T0 + 9 * DAY
    late = m.state.model_copy(deep=True)
    with pytest.raises(InvalidAction, match="window to appeal ended"):
        m.check("appeal", Appeal(reason="look again"), ends)
    m.check("appeal", Appeal(reason="look again"), ends - SECOND)
    m.apply("appeal", Appeal(reason="look again"), ends - SECOND)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.HEARING and found.appealed_by is not None
    with pytest.raises(NotAuthorized, match="cannot hear its appeal"):
        m.check("rule", Rule(actor="arbiter-1", decision="refund", amount=Decimal("100"), reason="x", **ARBITER))
    m.apply("rule", Rule(actor="arbiter-3", decision="reject", reason="still not", **ARBITER), ends + HOUR)
    assert found.final and found.stage == Stage.CLOSED
    assert late.intervention is not None and late.intervention.stage == Stage.REJECTED


def test_an_unappealed_rejection_becomes_final_and_closes(policy: Policy) -> None:
    m = hearing(policy)
    m.apply("rule", Rule(actor="arbiter-1", decision="reject", reason="not rotten", **ARBITER), T0 + 2 * DAY)
    m.fire_due(T0 + 9 * DAY - SECOND)
    assert m.state.intervention is not None and m.state.intervention.stage == Stage.REJECTED
    m.fire_due(T0 + 9 * DAY)
    assert m.state.intervention.stage == Stage.CLOSED
    assert [e.type for e in m.events][-2:] == ["ruling_final", "intervention_closed"]


def test_a_withdrawn_case_ends_its_intervention(policy: Policy) -> None:
    m = asked(policy)
    m.apply("withdraw", Withdraw(reason="settled by phone"), T0 + 2 * DAY)
    assert m.state.intervention is not None and m.state.intervention.stage == Stage.CLOSED
    assert m.state.status == Status.WITHDRAWN


def test_a_platform_refund_that_fails_leaves_the_ruling_to_the_merchant_and_nothing_owed(policy: Policy) -> None:
    m = hearing(policy)
    m.apply("rule", Rule(actor="arbiter-1", decision="refund", amount=Decimal("500"), reason="r", **ARBITER),
            T0 + 2 * DAY)
    ends = due(m, ClockName.RULING_CARRY_OUT)
    m.fire_due(ends)
    m.resolution_failed("platform_refund", "declined", [], ends + MINUTE)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.CARRYING_OUT and found.platform_paid == 0
    m.apply("carry_out_ruling", CarryOutRuling(actor="merchant-1"), ends + HOUR)
    assert m.state.status == Status.RESOLVING and m.state.proposal is not None and m.state.proposal.payer is None
    assert not [e for e in m.events if e.type == "recovery_settled"]


def test_a_second_arbiter_who_disagrees_sends_the_case_back_to_be_heard(policy: Policy) -> None:
    m = hearing(policy, amount="3000.00")
    m.apply("rule", Rule(actor="arbiter-1", decision="exchange", reason="faulty", **ARBITER), T0 + 2 * DAY)
    found = m.state.intervention
    assert found is not None and found.stage == Stage.SECOND_ARBITER  # an exchange of a 3000 order
    m.apply("confirm_ruling", ConfirmRuling(actor="arbiter-2", agree=False, note="not faulty", **ARBITER),
            T0 + 2 * DAY + HOUR)
    assert found.stage == Stage.HEARING and found.pending is None and found.ruling is None


def test_staff_cannot_speak_for_the_buyer_nor_reopen_a_case_under_hearing(policy: Policy) -> None:
    m = asked(policy)
    claim = SubmitEvidence(actor="merchant-1", party="buyer", references=["fake"], role="agent")
    with pytest.raises(NotAuthorized, match="not the buyer's"):
        m.check("submit_evidence", claim)
    backend = SubmitEvidence(actor="app-backend", party="merchant", references=["IMG-2"], role="system")
    m.apply("submit_evidence", backend, T0 + DAY + MINUTE)
    assert m.state.intervention is not None and m.state.intervention.evidence[-1].party.value == "buyer"
    with pytest.raises(NotAuthorized, match="appeal.party"):
        m.check("appeal", Appeal(actor="hq-1", party="platform", reason="x", role="supervisor"))
    # The case's own answer while the platform hears it: no silence accepts it, and no dispute
    # reopens it from under the hearing.
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type="explanation"), T0 + DAY + HOUR)
    m.resolution_executed([], T0 + DAY + HOUR)
    confirm_by = m.state.confirmation_due_at
    assert confirm_by is not None
    m.fire_due(confirm_by + HOUR)
    assert m.state.status == Status.AWAITING_CONFIRMATION
    with pytest.raises(InvalidAction, match="platform is hearing"):
        m.check("dispute", Dispute(reason="x"))


def test_the_buyer_sees_the_intervention_in_plain_words_and_asks_nothing_new_meanwhile(policy: Policy) -> None:
    m = hearing(policy)
    with pytest.raises(InvalidAction, match="platform is deciding"):
        m.check("request_remedy", RemedyRequest(remedy="refund_only", reason="other", amount=Decimal("10")))
    view = customer_progress(m.state, m.events, T0 + DAY + 2 * HOUR, "zh")
    assert view.headline == "平台正在审理您的申请。"
    assert "request_remedy" not in view.actions_available and "submit_evidence" in view.actions_available
    assert view.timeline[-1].title == "已提交凭证" and view.timeline[-1].detail == "商家"
