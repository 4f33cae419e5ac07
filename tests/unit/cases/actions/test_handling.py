"""What each handling action changes, and the audit events it appends: acknowledge, assign,
note, request_info, customer_reply, reclassify, propose_resolution, approve, reject, escalate
and withdraw, each applied in a status it is allowed in. (Clock arithmetic is in test_clock_*.)
"""

from __future__ import annotations

from decimal import Decimal

from cases.core.effects import Audience
from cases.models import (
    Acknowledge,
    Approve,
    Assign,
    Category,
    ClockState,
    CustomerReply,
    Escalate,
    Flags,
    Note,
    ProposeResolution,
    Reclassify,
    Reject,
    RequestInfo,
    ResolutionType,
    Status,
    Tier,
    Withdraw,
)
from tests.support.machine import (
    AP,
    CL,
    FR,
    HOUR,
    IH,
    MINUTE,
    RES,
    T0,
    assert_gapless,
    covers,
    frozen,
    general,
    machine_in,
    since,
    supervisor_notices,
)

REFUND_100 = ProposeResolution(actor="agent-1", type=ResolutionType.REFUND, amount=Decimal("100"))
REFUND_800 = ProposeResolution(actor="agent-1", type=ResolutionType.REFUND, amount=Decimal("800"))


@covers("acknowledge")
def test_acknowledge_meets_the_first_response_and_takes_the_case(policy) -> None:
    m = general(policy)
    t = T0 + 30 * MINUTE
    last = m.state.last_seq
    m.apply("acknowledge", Acknowledge(actor="agent-7", message="on it"), t)
    assert (m.state.status, m.state.handler, m.state.first_response_at) == (
        Status.ACKNOWLEDGED, "agent-7", t,
    )
    fr = m.state.clocks[FR]
    assert (fr.state, fr.met_at, fr.elapsed_seconds, fr.due_at) == (ClockState.MET, t, 1800.0, None)
    assert since(m, last) == [("acknowledged", None), ("clock_met", "first_response")]
    assert (m.events[-2].actor, m.events[-2].data) == ("agent-7", {"message": "on it"})
    assert m.events[-1].data == {
        "clock": "first_response", "elapsed_seconds": 1800.0, "target_seconds": 86400.0,
        "on_time": True,
    }
    assert_gapless(m)


def test_acknowledge_keeps_a_handler_assigned_before(policy) -> None:
    m = general(policy)
    m.apply("assign", Assign(actor="lead-1", handler="agent-2"), T0 + MINUTE)
    m.apply("acknowledge", Acknowledge(actor="agent-9"), T0 + 2 * MINUTE)
    assert m.state.handler == "agent-2"


@covers("assign")
def test_assign_sets_handler_and_team(policy) -> None:
    m, t = machine_in(policy, Status.RESOLVING)
    last = m.state.last_seq
    m.apply("assign", Assign(actor="lead-1", handler="agent-2", team="returns"), t)
    assert (m.state.handler, m.state.team, m.state.status) == ("agent-2", "returns", Status.RESOLVING)
    assert since(m, last) == [("assigned", None)]
    assert (m.events[-1].actor, m.events[-1].data) == ("lead-1", {"handler": "agent-2", "team": "returns"})
    m.apply("assign", Assign(handler="agent-3"), t + MINUTE)
    assert (m.state.handler, m.state.team) == ("agent-3", "returns")  # no team given: kept
    assert_gapless(m)


@covers("note")
def test_note_only_adds_an_event(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_RATING)
    state, *_ = frozen(m)
    m.apply("note", Note(actor="agent-1", text="customer called"), t)
    assert since(m, state["last_seq"]) == [("note", None)]
    assert (m.events[-1].actor, m.events[-1].data) == ("agent-1", {"text": "customer called"})
    assert m.state.model_dump() == state | {"last_seq": state["last_seq"] + 1}
    assert_gapless(m)


@covers("request_info")
def test_request_info_waits_on_the_customer_and_pauses_the_clocks(policy) -> None:
    m = general(policy)
    t = T0 + 2 * HOUR
    last = m.state.last_seq
    m.apply("request_info", RequestInfo(actor="agent-1", question="A photo, please?"), t)
    assert (m.state.status, m.state.first_response_at) == (Status.AWAITING_CUSTOMER, t)
    assert m.state.clocks[FR].state == ClockState.MET  # asking is a first response
    for name in (IH, RES, CL):
        assert (m.state.clocks[name].state, m.state.clocks[name].paused_at) == (ClockState.PAUSED, t)
    assert since(m, last) == [
        ("info_requested", None),
        ("clock_met", "first_response"),
        ("clock_paused", "initial_handling"),
        ("clock_paused", "resolution"),
        ("clock_paused", "closure"),
        ("notification_queued", "info_request"),
    ]
    notice = m.notifications[-1]
    assert (notice.audience, notice.recipient, notice.body) == (
        Audience.CUSTOMER, "cust-1", "A photo, please?",
    )
    assert_gapless(m)


@covers("customer_reply")
def test_customer_reply_returns_to_handling_and_resumes_the_clocks(policy) -> None:
    m = general(policy)
    m.apply("request_info", RequestInfo(question="A photo, please?"), T0 + HOUR)
    t = T0 + 5 * HOUR
    last = m.state.last_seq
    m.apply("customer_reply", CustomerReply(text="here it is"), t)
    assert m.state.status == Status.ACKNOWLEDGED
    for name in (IH, RES, CL):
        clock = m.state.clocks[name]
        assert (clock.state, clock.paused_at, clock.running_since) == (ClockState.RUNNING, None, t)
    assert since(m, last) == [
        ("customer_replied", None),
        ("clock_resumed", "initial_handling"),
        ("clock_resumed", "resolution"),
        ("clock_resumed", "closure"),
        ("clock_started", "next_reply"),  # the reply is a message the agent now owes an answer
    ]
    assert (m.events[-5].actor, m.events[-5].data) == ("customer", {"text": "here it is"})
    assert m.events[-3].data["due_at"] == (T0 + 76 * HOUR).isoformat()  # 72 h + 4 h paused
    assert_gapless(m)


@covers("reclassify")
def test_reclassify_changes_tier_category_flags_and_team(policy) -> None:
    m = general(policy)
    t = T0 + HOUR
    last = m.state.last_seq
    m.apply(
        "reclassify",
        Reclassify(actor="agent-1", category=Category.LOGISTICS,
                   flags=Flags(major_complaint=True), reason="press"),
        t,
    )
    s = m.state
    assert (s.tier, s.category, s.intake.category, s.team) == (
        Tier.COMPLEX, Category.LOGISTICS, Category.LOGISTICS, "major_complaints",
    )
    assert s.intake.flags.major_complaint is True
    assert since(m, last) == [("reclassified", None)]
    assert m.events[-1].data == {
        "old_tier": "general", "tier": "complex", "category": "logistics", "reason": "press",
        "due": {c.value: s.clocks[c].due_at.isoformat() for c in (FR, IH, RES, CL)},
    }
    assert s.clocks[FR].target_label == "4h"  # the logistics override now applies
    assert_gapless(m)


@covers("propose_resolution")
def test_propose_resolution_without_approval_goes_to_resolving(policy) -> None:
    m = general(policy)
    t = T0 + HOUR
    last = m.state.last_seq
    m.apply("propose_resolution", REFUND_100, t)  # straight from registered
    s = m.state
    assert s.status == Status.RESOLVING and s.proposals_made == 1 and AP not in s.clocks
    assert s.proposal is not None
    assert (s.proposal.type, s.proposal.amount, s.proposal.proposed_by, s.proposal.proposed_at,
            s.proposal.needs_approval, s.proposal.number) == (
        ResolutionType.REFUND, Decimal("100"), "agent-1", t, False, 1,
    )
    assert (s.clocks[FR].met_at, s.clocks[IH].met_at, s.first_response_at) == (t, t, t)
    assert since(m, last) == [
        ("clock_met", "first_response"),
        ("resolution_proposed", None),
        ("clock_met", "initial_handling"),
    ]
    assert m.events[-2].data == {"type": "refund", "amount": "100", "needs_approval": False, "number": 1}
    assert_gapless(m)


def test_propose_resolution_needing_approval_waits_for_a_supervisor(policy) -> None:
    m, t = machine_in(policy, Status.ACKNOWLEDGED)
    last = m.state.last_seq
    m.apply("propose_resolution", REFUND_800, t)
    assert m.state.status == Status.AWAITING_APPROVAL
    assert m.state.proposal is not None and m.state.proposal.needs_approval is True
    assert m.state.clocks[AP].started_at == t
    assert since(m, last) == [
        ("resolution_proposed", None),
        ("clock_met", "initial_handling"),
        ("clock_started", "approval"),
        ("notification_queued", "approval_requested"),
    ]
    assert supervisor_notices(m, "approval_requested") == [
        ("outlet-supervisor", "Approval needed: refund 800 CNY")
    ]
    assert_gapless(m)


@covers("approve")
def test_approve_records_the_review_and_resolves(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_APPROVAL)
    last = m.state.last_seq
    m.apply("approve", Approve(actor="supervisor-1", role="supervisor", note="ok"), t)
    review = m.state.review
    assert review is not None
    assert (review.approved, review.by, review.at, review.note) == (True, "supervisor-1", t, "ok")
    assert m.state.status == Status.RESOLVING
    assert (m.state.clocks[AP].state, m.state.clocks[AP].met_at) == (ClockState.MET, t)
    assert m.state.proposal is not None and m.state.proposal.amount == Decimal("800")
    assert since(m, last) == [("approved", None), ("clock_met", "approval")]
    assert_gapless(m)


@covers("reject")
def test_reject_drops_the_proposal_and_returns_to_handling(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_APPROVAL)
    last = m.state.last_seq
    m.apply("reject", Reject(actor="supervisor-1", role="supervisor", reason="too much"), t)
    review = m.state.review
    assert review is not None
    assert (review.approved, review.by, review.note) == (False, "supervisor-1", "too much")
    assert (m.state.status, m.state.proposal) == (Status.ACKNOWLEDGED, None)
    assert m.state.clocks[AP].state == ClockState.MET
    assert m.state.clocks[RES].met_at is None
    assert since(m, last) == [("rejected", None), ("clock_met", "approval")]
    assert m.events[-2].data == {"reason": "too much", "role": "supervisor"}
    m.apply("propose_resolution", REFUND_100, t + MINUTE)
    assert m.state.proposal is not None and m.state.proposal.number == 2
    assert (m.state.proposals_made, m.state.review, m.state.status) == (2, None, Status.RESOLVING)
    assert_gapless(m)


@covers("escalate")
def test_escalate_moves_one_level_up_and_tells_its_supervisor(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_CONFIRMATION)
    last = m.state.last_seq
    m.apply("escalate", Escalate(actor="agent-1", reason="press enquiry"), t)
    assert (m.state.escalation_level, m.state.escalations) == (2, 1)
    assert m.state.status == Status.AWAITING_CONFIRMATION
    assert since(m, last) == [("escalated", None), ("notification_queued", "escalation")]
    assert (m.events[-2].actor, m.events[-2].data) == ("agent-1", {
        "reason": "press enquiry", "from_level": 3, "to_level": 2,
        "level_name": "regional service center",
    })
    assert supervisor_notices(m, "escalation") == [
        ("regional-supervisor", "Escalated to level 2 (regional service center): press enquiry")
    ]
    assert m.notifications[-1].data == {"level": 2, "tier": "general"}
    assert_gapless(m)


@covers("withdraw")
def test_withdraw_stops_the_clocks_and_ends_the_case(policy) -> None:
    m, _ = machine_in(policy, Status.ACKNOWLEDGED)
    t = T0 + 3 * HOUR
    last = m.state.last_seq
    m.apply("withdraw", Withdraw(reason="bought another"), t)
    assert (m.state.status, m.state.closed_at) == (Status.WITHDRAWN, t)
    assert m.state.clocks[FR].state == ClockState.MET
    for name in (IH, RES, CL):
        clock = m.state.clocks[name]
        assert (clock.stopped_at, clock.due_at, clock.warn_at, clock.met_at) == (t, None, None, None)
    assert since(m, last) == [("withdrawn", None)]
    assert (m.events[-1].actor, m.events[-1].data) == ("customer", {"reason": "bought another"})
    assert m.next_wake() is None
    done = frozen(m)
    m.fire_due(T0 + 30 * 24 * HOUR)  # long past every target: nothing fires any more
    assert frozen(m) == done
    assert_gapless(m)
