"""The follow-up (回访, S7): who gets one (urgent, complex, VIP, low-rated, and a deterministic
15 % sample), when it is due, its booking, its outcome (recurred reopens, anything else closes)
and the outcome window that, when it runs out, records the customer as unreachable.
"""

from __future__ import annotations

import pytest

from cases.models import (
    ClockState,
    Confirm,
    FollowUpOutcome,
    FollowUpResult,
    Rate,
    Status,
)
from tests.support.machine import (
    DAY,
    HANDLING,
    HOUR,
    NOT_SAMPLED,
    SAMPLED,
    T0,
    US,
    assert_gapless,
    frozen,
    general,
    machine_in,
    resolve,
    sampled,
    since,
)


def rated(policy, score: int = 5, **overrides):
    m = general(policy, **overrides)
    done = resolve(m, T0 + HOUR)
    m.apply("confirm", Confirm(), done + HOUR)
    m.apply("rate", Rate(score=score), done + 2 * HOUR)
    return m, done


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"category": "safety"}, "tier"),
        ({"order_amount": "6000.00"}, "tier"),
        ({"customer_tier": "vip"}, "vip"),
        ({"case_id": SAMPLED}, "sample"),
        ({"case_id": NOT_SAMPLED}, None),
    ],
)
def test_who_gets_a_follow_up(policy, overrides, reason) -> None:
    m, done = rated(policy, **overrides)
    if reason is None:
        assert (m.state.status, m.state.follow_up, m.state.closed_at) == (Status.CLOSED, None, done + 2 * HOUR)
    else:
        f = m.state.follow_up
        assert m.state.status == Status.FOLLOW_UP
        assert f is not None and (f.required, f.reason, f.scheduled_for) == (True, reason, None)


def test_the_sample_is_a_deterministic_fifteen_percent_of_case_ids(policy) -> None:
    m = general(policy)
    ids = [f"case-{n}" for n in range(2000)]
    chosen = [i for i in ids if m.policy.in_follow_up_sample(i)]
    assert chosen == [i for i in ids if sampled(i)]  # the same ids on every replay
    assert 0.12 < len(chosen) / len(ids) < 0.18
    assert m.policy.follow_up_reason(SAMPLED, m.state.tier, m.state.intake.customer.tier) == "sample"


def test_the_follow_up_is_due_seven_days_after_the_resolution_and_is_booked(policy) -> None:
    m, done = rated(policy, case_id=SAMPLED)
    assert m.follow_up_due() == done + 7 * DAY
    last = m.state.last_seq
    m.follow_up_scheduled("fu-42", done + 7 * DAY, done + 3 * HOUR)
    f = m.state.follow_up
    assert f is not None and (f.reference, f.scheduled_for) == ("fu-42", done + 7 * DAY)
    assert since(m, last) == [("follow_up_scheduled", None)]
    assert m.events[-1].data == {
        "reference": "fu-42", "scheduled_for": (done + 7 * DAY).isoformat(), "reason": "sample",
    }


def test_a_booking_that_arrives_after_the_case_moved_on_is_superseded(policy) -> None:
    m, t = machine_in(policy, Status.CLOSED)
    state = m.state.model_dump()
    m.follow_up_scheduled("fu-late", t + 7 * DAY, t)
    assert since(m, state["last_seq"]) == [("follow_up_booking_superseded", None)]
    assert m.events[-1].data == {"reference": "fu-late"}
    assert m.state.model_dump() == state | {"last_seq": state["last_seq"] + 1}


def test_no_outcome_within_the_window_records_unreachable_and_closes(policy) -> None:
    m, done = rated(policy, case_id=SAMPLED)
    booked = done + 7 * DAY
    m.follow_up_scheduled("fu-1", booked, done + 3 * HOUR)
    end = booked + 3 * DAY
    assert m.next_wake()[0] == end
    before = frozen(m)
    m.fire_due(end - US)
    assert frozen(m) == before
    last = m.state.last_seq
    m.fire_due(end)
    f = m.state.follow_up
    assert f is not None and (f.outcome, f.outcome_at) == (FollowUpOutcome.UNREACHABLE, end)
    assert (m.state.status, m.state.closed_at) == (Status.CLOSED, end)
    assert since(m, last) == [("follow_up_result", None), ("closed", None)]
    assert (m.events[-2].actor, m.events[-2].data) == ("system", {"outcome": "unreachable", "note": "no outcome"})
    assert m.next_wake() is None


def test_without_a_booking_the_outcome_window_never_runs_out(policy) -> None:
    m, done = rated(policy, case_id=SAMPLED)
    before = frozen(m)
    m.fire_due(done + 60 * DAY)
    assert frozen(m) == before


@pytest.mark.parametrize(
    "outcome", [FollowUpOutcome.SATISFIED, FollowUpOutcome.UNSATISFIED, FollowUpOutcome.UNREACHABLE]
)
def test_an_outcome_other_than_recurred_closes_the_case(policy, outcome) -> None:
    m, t = machine_in(policy, Status.FOLLOW_UP)
    m.apply("follow_up_result", FollowUpResult(outcome=outcome), t)
    assert (m.state.status, m.state.closed_at, m.state.reopen_count) == (Status.CLOSED, t, 0)
    assert m.state.follow_up is not None and m.state.follow_up.outcome == outcome


def test_a_problem_that_recurred_reopens_the_case(policy) -> None:
    m, done = rated(policy, score=4, order_amount="6000.00")  # complex: always followed up
    m.follow_up_scheduled("fu-1", done + 7 * DAY, done + 3 * HOUR)
    t = done + 7 * DAY + HOUR
    last = m.state.last_seq
    m.apply("follow_up_result", FollowUpResult(outcome=FollowUpOutcome.RECURRED, note="noise is back"), t)
    s = m.state
    assert (s.status, s.reopen_count, s.follow_up, s.resolution, s.rating) == (
        Status.REGISTERED, 1, None, None, 4,
    )
    for name, hours in zip(HANDLING[:3], (24, 48, 72), strict=True):
        assert (s.clocks[name].started_at, s.clocks[name].due_at) == (t, t + hours * HOUR)
    assert since(m, last)[:2] == [("follow_up_result", None), ("reopened", None)]
    assert m.events[last + 1].data["reason"] == "problem recurred: noise is back"  # seq last+2
    assert {r.clock.name: r.clock.state for r in m.retired_clocks} == {n: ClockState.MET for n in HANDLING}
    assert m.next_wake()[0] == t + 19.2 * HOUR
    assert_gapless(m)
