"""From the resolution to the rating (S4.1, S5, S6, S10.2): the resolution carried out or
failed, the confirmation window where silence accepts, the dispute that reopens the case, the
survey timeout and a low rating that opens a quality review.
"""

from __future__ import annotations

from decimal import Decimal

from cases.models import (
    Acknowledge,
    Approve,
    ClockState,
    Confirm,
    Dispute,
    ExecutedStep,
    ProposeResolution,
    Rate,
    ResolutionType,
    Status,
)
from tests.support.machine import (
    AP,
    CL,
    DAY,
    FR,
    HANDLING,
    HOUR,
    IH,
    MINUTE,
    RES,
    SAMPLED,
    T0,
    US,
    assert_gapless,
    executed,
    frozen,
    general,
    machine_in,
    resolve,
    since,
)


def test_resolution_executed_meets_the_resolution_clock_and_opens_the_window(policy) -> None:
    m, _ = machine_in(policy, Status.RESOLVING)
    t = T0 + 5 * HOUR
    last = m.state.last_seq
    m.resolution_executed(executed(), t)
    s = m.state
    assert s.resolution is not None
    assert (s.resolution.type, s.resolution.amount, s.resolution.executed_at) == (
        ResolutionType.REFUND, Decimal("100"), t,
    )
    assert [step.reference for step in s.resolution.steps] == ["refund-ref-1"]
    assert (s.status, s.resolved_at, s.confirmation_due_at) == (Status.AWAITING_CONFIRMATION, t, t + 72 * HOUR)
    assert (s.clocks[RES].state, s.clocks[RES].met_at) == (ClockState.MET, t)
    assert s.clocks[CL].state == ClockState.RUNNING  # closure waits for the customer
    assert since(m, last) == [
        ("resolution_executed", None), ("clock_met", "resolution"), ("notification_queued", "result"),
    ]
    assert m.notifications[-1].body.startswith(
        "Resolution: refund of 100 CNY (refund reference refund-ref-1)."
    )
    assert s.resolution.proof == {"refund_reference": "refund-ref-1"}
    assert m.notifications[-1].data["proof"] == {"refund_reference": "refund-ref-1"}
    assert_gapless(m)


def test_a_failed_resolution_escalates_and_goes_back_to_the_agent(policy) -> None:
    m, _ = machine_in(policy, Status.RESOLVING)
    t = T0 + 2 * HOUR
    last = m.state.last_seq
    undone = [ExecutedStep(step="refund", reference="rf-1", compensated=True)]
    m.resolution_failed("replacement", "ShipmentFailedError: out of stock", undone, t)
    s = m.state
    assert (s.status, s.proposal, s.resolution) == (Status.ACKNOWLEDGED, None, None)
    assert (s.escalation_level, s.escalations) == (2, 1)
    res = s.clocks[RES]  # still running towards its original target
    assert (res.state, res.met_at, res.due_at) == (ClockState.RUNNING, None, T0 + 72 * HOUR)
    assert since(m, last) == [
        ("resolution_failed", None), ("escalated", None), ("notification_queued", "escalation"),
    ]
    assert m.events[-3].data == {
        "step": "replacement", "error": "ShipmentFailedError: out of stock",
        "compensated": [{"step": "refund", "reference": "rf-1", "compensated": True}],
    }
    assert m.notifications[-1].recipient == "regional-supervisor"
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.REFUND, amount=Decimal("100")),
            t + HOUR)
    assert m.state.proposal is not None and m.state.proposal.number == 2
    assert_gapless(m)


def test_silence_is_accepted_exactly_when_the_confirmation_window_ends(policy) -> None:
    m = general(policy)
    done = resolve(m, T0 + HOUR)
    end = done + 72 * HOUR
    assert m.next_wake()[0] == end
    before = frozen(m)
    m.fire_due(end - US)
    assert frozen(m) == before
    last = m.state.last_seq
    m.fire_due(end)
    s = m.state
    assert (s.status, s.confirmation, s.confirmation_due_at, s.survey_due_at) == (
        Status.AWAITING_RATING, "accepted_by_silence", None, end + 7 * DAY,
    )
    assert (s.clocks[CL].state, s.clocks[CL].met_at) == (ClockState.MET, end)
    assert since(m, last) == [
        ("accepted_by_silence", None), ("clock_met", "closure"), ("notification_queued", "survey"),
    ]
    assert (m.events[-3].actor, m.events[-3].at) == ("system", end)


def test_a_dispute_reopens_with_new_clocks_and_retires_the_old_ones(policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(), T0 + MINUTE)
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.REFUND, amount=Decimal("800")),
            T0 + 2 * MINUTE)
    m.apply("approve", Approve(actor="supervisor-1", role="supervisor"), T0 + 3 * MINUTE)
    m.resolution_executed(executed(), T0 + HOUR)
    t = T0 + 6 * HOUR
    m.apply("dispute", Dispute(reason="still broken"), t)
    s = m.state
    assert (s.status, s.reopen_count) == (Status.REGISTERED, 1)
    assert (s.proposal, s.review, s.resolution, s.resolved_at) == (None, None, None, None)
    assert (s.first_response_at, s.confirmation, s.confirmation_due_at) == (None, None, None)
    assert set(s.clocks) == set(HANDLING)  # the approval clock belongs to the old round
    for name, hours in ((FR, 24), (IH, 48), (RES, 72)):
        c = s.clocks[name]
        assert (c.started_at, c.state, c.due_at, c.warn_at) == (
            t, ClockState.RUNNING, t + hours * HOUR, t + 0.8 * hours * HOUR,
        )
    assert s.clocks[CL].due_at == m.policy.calendar.add_business_seconds(t, 7 * 9 * 3600.0)
    old = {r.clock.name: r.clock for r in m.retired_clocks}
    assert {r.round for r in m.retired_clocks} == {0}
    assert set(old) == {*HANDLING, AP}
    assert all(old[n].met_at is not None for n in (FR, IH, RES, AP))
    assert (old[CL].stopped_at, old[CL].met_at, old[CL].due_at) == (t, None, None)
    assert m.next_wake()[0] == t + 19.2 * HOUR
    # A second round can be disputed again: its clocks retire as round 1.
    done = resolve(m, t + HOUR)
    m.apply("dispute", Dispute(reason="again"), done + HOUR)
    assert m.state.reopen_count == 2
    assert {r.round for r in m.retired_clocks} == {0, 1}
    assert_gapless(m)


def test_without_a_rating_the_survey_times_out_and_the_case_closes(policy) -> None:
    m, _ = machine_in(policy, Status.AWAITING_RATING)
    end = m.state.survey_due_at
    assert end is not None and m.next_wake()[0] == end
    before = frozen(m)
    m.fire_due(end - US)
    assert frozen(m) == before
    last = m.state.last_seq
    m.fire_due(end)
    assert since(m, last) == [("survey_timed_out", None), ("closed", None)]
    assert (m.state.status, m.state.closed_at, m.state.rating, m.state.survey_due_at) == (
        Status.CLOSED, end, None, None,
    )


def test_a_survey_timeout_on_a_sampled_case_still_gets_a_follow_up(policy) -> None:
    m = general(policy, case_id=SAMPLED)
    done = resolve(m, T0 + HOUR)
    m.apply("confirm", Confirm(), done + HOUR)
    m.fire_due(done + HOUR + 7 * DAY)
    assert m.state.status == Status.FOLLOW_UP
    assert m.state.follow_up is not None and m.state.follow_up.reason == "sample"


def test_a_rating_of_two_opens_a_quality_review_and_escalates(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_RATING)
    last = m.state.last_seq
    m.apply("rate", Rate(score=2, comment="slow"), t)
    s = m.state
    assert (s.rating, s.quality_review, s.escalation_level, s.escalations) == (2, True, 2, 1)
    assert s.status == Status.FOLLOW_UP
    assert s.follow_up is not None and (s.follow_up.required, s.follow_up.reason) == (True, "low_rating")
    assert since(m, last) == [
        ("rated", None), ("quality_review_opened", None), ("escalated", None),
        ("notification_queued", "escalation"),
    ]
    assert m.notifications[-1].subject == (
        "Escalated to level 2 (regional service center): low satisfaction rating 2"
    )


def test_a_rating_of_three_is_no_low_rating(policy) -> None:
    m, t = machine_in(policy, Status.AWAITING_RATING)
    m.apply("rate", Rate(score=3), t)
    assert (m.state.quality_review, m.state.escalation_level, m.state.status) == (False, 3, Status.CLOSED)


def test_a_low_rating_on_a_complex_case_adds_to_the_tier_reason(policy) -> None:
    m = general(policy, order_amount="6000.00")
    done = resolve(m, T0 + HOUR, kind=ResolutionType.EXPLANATION, amount="0")
    m.apply("confirm", Confirm(), done + HOUR)
    m.apply("rate", Rate(score=1), done + 2 * HOUR)
    assert m.state.follow_up is not None and m.state.follow_up.reason == "tier+low_rating"
