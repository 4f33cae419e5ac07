"""What each action after the resolution changes, and the audit events it appends: confirm,
dispute, rate and follow_up_result. (The rules around them, such as windows, sampling and
reopening, are in test_after_resolution.py and test_follow_up.py.)
"""

from __future__ import annotations

from cases.core.effects import Audience
from cases.models import (
    ClockState,
    Confirm,
    Dispute,
    FollowUpOutcome,
    FollowUpResult,
    Rate,
    Status,
)
from tests.support.machine import (
    CL,
    DAY,
    HANDLING,
    HOUR,
    T0,
    assert_gapless,
    covers,
    machine_in,
    since,
)


@covers("confirm")
def test_confirm_meets_the_closure_clock_and_sends_the_survey(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_CONFIRMATION)
    t = T0 + 5 * HOUR
    last = m.state.last_seq
    m.apply("confirm", Confirm(), t)
    s = m.state
    assert (s.status, s.confirmation, s.confirmation_due_at, s.survey_due_at) == (
        Status.AWAITING_RATING, "confirmed", None, t + 7 * DAY,
    )
    assert (s.clocks[CL].state, s.clocks[CL].met_at) == (ClockState.MET, t)
    assert since(m, last) == [
        ("confirmed", None),
        ("clock_met", "closure"),
        ("notification_queued", "survey"),
    ]
    assert m.events[-3].actor == "customer"
    notice = m.notifications[-1]
    assert (notice.audience, notice.recipient, notice.subject) == (
        Audience.CUSTOMER, "cust-1", "How did we do?",
    )
    assert_gapless(m)


@covers("dispute")
def test_dispute_reopens_the_case(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_CONFIRMATION)
    t = T0 + 5 * HOUR
    last = m.state.last_seq
    m.apply("dispute", Dispute(reason="still broken"), t)
    s = m.state
    assert (s.status, s.reopen_count, s.proposal, s.resolution) == (Status.REGISTERED, 1, None, None)
    assert {n: c.started_at for n, c in s.clocks.items()} == {n: t for n in HANDLING}
    assert since(m, last) == [
        ("disputed", None),
        ("reopened", None),
        ("clock_started", "first_response"),
        ("clock_started", "initial_handling"),
        ("clock_started", "resolution"),
        ("clock_started", "closure"),
        ("notification_queued", "reopened"),
    ]
    assert (m.events[-7].actor, m.events[-7].data) == ("customer", {"reason": "still broken"})
    assert m.events[-6].data == {"reason": "dispute: still broken", "reopen_count": 1}
    assert_gapless(m)


@covers("rate")
def test_rate_records_the_score_and_closes_a_case_needing_no_follow_up(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_RATING)
    t = T0 + 6 * HOUR
    last = m.state.last_seq
    m.apply("rate", Rate(score=4, comment="quick"), t)
    s = m.state
    assert (s.rating, s.rating_comment, s.survey_due_at, s.quality_review) == (4, "quick", None, False)
    assert (s.status, s.closed_at, s.follow_up, s.escalation_level) == (Status.CLOSED, t, None, 3)
    assert since(m, last) == [("rated", None), ("closed", None)]
    assert (m.events[-2].actor, m.events[-2].data) == ("customer", {"score": 4, "comment": "quick"})
    assert m.next_wake() is None
    assert_gapless(m)


def test_rate_on_a_sampled_case_asks_for_a_follow_up(policy) -> None:
    m, _ = machine_in(policy, Status.FOLLOW_UP)  # rated 5 on a case id in the 15 % sample
    assert m.state.follow_up is not None
    assert (m.state.follow_up.required, m.state.follow_up.reason) == (True, "sample")
    assert m.state.closed_at is None
    assert m.events[-1].type == "rated"


@covers("follow_up_result")
def test_follow_up_result_satisfied_closes_the_case(policy) -> None:
    m, _ = machine_in(policy, Status.FOLLOW_UP)
    t = T0 + 8 * DAY
    last = m.state.last_seq
    m.apply("follow_up_result", FollowUpResult(actor="caller-3", outcome=FollowUpOutcome.SATISFIED,
                                               note="fine"), t)
    f = m.state.follow_up
    assert f is not None and (f.outcome, f.outcome_at) == (FollowUpOutcome.SATISFIED, t)
    assert (m.state.status, m.state.closed_at) == (Status.CLOSED, t)
    assert since(m, last) == [("follow_up_result", None), ("closed", None)]
    assert (m.events[-2].actor, m.events[-2].data) == ("caller-3", {"outcome": "satisfied", "note": "fine"})
    assert_gapless(m)
