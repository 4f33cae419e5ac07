"""The what-if's replay beyond the record, its failures and what its lines may say, on cases
driven through the pure machine (tests/unit/reports/whatif/test_timeline.py's `Drive`), no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cases.models import ExecutedStep
from reports.whatif.compare import differences
from reports.whatif.figures import Tally, WhatIf
from reports.whatif.replay import replay
from reports.whatif.run import Snapshots, count_into, replay_case
from reports.whatif.timeline import RecordedEvent, Step, StepKind, timeline_of
from tests.unit.reports.whatif.test_timeline import OPENED, POLICY, Drive, complex_case

NAME, PHONE = "Zhang Xiaoming", "+8613912345678"


def _refunded_and_closed() -> Drive:
    d = Drive(POLICY, order_amount="300.00")
    d.act(timedelta(minutes=5), "acknowledge", actor="agent-1")
    d.act(timedelta(minutes=5), "propose_resolution", actor="agent-1", type="refund", amount="300")
    d.until(d.now + timedelta(seconds=2))
    d.m.resolution_executed([ExecutedStep(step="refund", reference="RF-1")], d.now)
    d.act(timedelta(hours=1), "confirm")
    d.act(timedelta(hours=1), "rate", score=5)
    return d


def test_a_case_the_candidate_leaves_open_goes_on_breaching_until_the_record_was_read() -> None:
    d = _refunded_and_closed()
    assert d.m.state.status.value == "closed"
    tl = d.timeline()
    tl.as_of = d.now + timedelta(days=30)  # read a month after the case closed
    assert tl.horizon == d.now  # a closed case's record ends at its last event
    # Under a policy where every refund needs approval, the confirm is refused and the case
    # waits for an approval nobody gives: its approval clock (4 h) breaches after the record ends.
    strict = POLICY.model_copy(deep=True)
    strict.approval.threshold = 0  # type: ignore[assignment]
    replayed = replay(tl, strict.snapshot(OPENED))
    assert replayed.final.status.value == "awaiting_approval"
    breached = [(e.data["clock"], e.at) for e in replayed.events if e.type == "clock_breached"]
    approval_started = next(e.at for e in replayed.events
                            if e.type == "clock_started" and e.data["clock"] == "approval")
    assert breached[0] == ("approval", approval_started + timedelta(hours=4))
    assert all(at <= tl.as_of for _, at in breached) and breached[-1][1] > tl.horizon
    # Under the policy it ran on the replayed case closes too, so nothing goes on after it.
    assert differences(tl, replay(tl, POLICY.snapshot(OPENED))) == []


def test_an_example_line_names_what_differs_never_what_a_person_wrote() -> None:
    d = Drive(POLICY)
    d.act(timedelta(minutes=40), "customer_message", text=f"Call me on {PHONE}")
    d.act(timedelta(minutes=5), "acknowledge", actor="agent-1")
    d.act(timedelta(minutes=5), "withdraw", reason=f"{NAME} bought another")
    tl = d.timeline()
    # The record says the message otherwise than the input fed back: both texts are personal.
    k, message = next((k, e) for k, e in enumerate(tl.recorded) if e.type == "customer_message")
    tl.recorded[k] = RecordedEvent(message.seq, message.type, "someone", message.at,
                                   {"text": f"{NAME} here"})
    (line,) = differences(tl, replay(tl, POLICY.snapshot(OPENED)))
    at = message.at.isoformat()
    assert line == (f"wi-unit: event {message.seq} recorded customer_message at {at}, "
                    f"replayed customer_message at {at}; differs in actor, text")

    # A tighter target: the first departure is the clock's, whose instants are the policy's.
    tight = POLICY.model_copy(deep=True)
    tight.targets["general"]["first_response"] = "30m"  # type: ignore[index]
    first = differences(tl, replay(tl, tight.snapshot(OPENED)))[0]
    assert "recorded clock_started at" in first and "due_at " in first and " -> " in first
    for text in (line, first):
        for secret in (PHONE, NAME, "Zhang", "Call me", "bought"):
            assert secret not in text


def test_a_replay_error_keeps_its_kind_and_place_not_the_values() -> None:
    tl = complex_case().timeline()
    # A booking whose instant is not one: `fromisoformat` quotes the text in its message.
    tl.steps.insert(0, Step(0, OPENED, StepKind.RESULT, "repair_booked",
                            {"reference": "R-1", "scheduled_for": f"call {PHONE}"}))
    broken = replay(tl, POLICY.snapshot(OPENED))
    assert broken.error == "ValueError at repair_booked (event 0)"
    assert PHONE not in differences(tl, broken)[0]


def test_a_failed_replay_is_left_out_of_both_sides() -> None:
    good, bad = complex_case().timeline(), complex_case().timeline()
    bad.steps.insert(0, Step(0, OPENED, StepKind.RESULT, "repair_booked",
                             {"reference": "R-1", "scheduled_for": "not an instant"}))
    tally = Tally(WhatIf(since=OPENED, until=OPENED + timedelta(days=1), generated_at=OPENED,
                         policy="default"))
    snapshots = Snapshots(POLICY)
    for tl in (good, bad):
        count_into(tally, tl, *replay_case(tl, snapshots))
    report = tally.finish(1.0)
    # One case on each side, the good one; the failed one only in `failed_cases`.
    assert (report.overall.actual.cases, report.overall.candidate.cases) == (1, 1)
    assert report.overall.actual == report.overall.candidate
    c = report.counts
    assert (c.failed_cases, c.changed_cases, c.outcome_changed_cases) == (1, 0, 0)
    assert c.actions == sum(s.kind == StepKind.ACTION for s in good.steps)
    assert c.examples == ["wi-unit: replay failed: ValueError at repair_booked (event 0)"]


def test_a_candidate_that_cannot_be_resolved_for_a_case_fails_that_case_only() -> None:
    tl = complex_case().timeline()

    def unresolvable(_opened_at: datetime) -> None:
        raise KeyError("no calendar")

    replayed, diffs = replay_case(tl, unresolvable)  # type: ignore[arg-type]
    assert replayed.error == "KeyError resolving the candidate policy"
    assert diffs == ["wi-unit: replay failed: KeyError resolving the candidate policy"]


def test_snapshots_are_kept_by_the_business_time_zones_year() -> None:
    # Both in 2024 in UTC; the second is already 2025 in Asia/Shanghai (UTC+8).
    december, new_year = datetime(2024, 12, 31, 10, tzinfo=UTC), datetime(2024, 12, 31, 20, tzinfo=UTC)
    snapshots = Snapshots(POLICY)
    assert snapshots(december) == POLICY.snapshot(december)
    assert snapshots(new_year) == POLICY.snapshot(new_year) != POLICY.snapshot(december)


def test_an_amendment_is_a_known_input_the_replay_goes_without() -> None:
    d = Drive(POLICY)
    d.act(timedelta(minutes=5), "acknowledge", actor="agent-1")
    d.act(timedelta(minutes=5), "withdraw", reason="fixed")
    tl = d.timeline()
    last = tl.recorded[-1]
    tl = timeline_of(d.m.state.model_dump(mode="json"), [
        *tl.recorded[:3],
        RecordedEvent(3, "amended", "operator", tl.recorded[2].at, {"calendar": "2025"}),
        *(RecordedEvent(e.seq + 1, e.type, e.actor, e.at, e.data) for e in tl.recorded[3:]),
    ], last.at)
    assert not tl.unmapped and tl.amendments == 1
    tally = Tally(WhatIf(since=OPENED, until=last.at, generated_at=last.at, policy="default"))
    count_into(tally, tl, *replay_case(tl, Snapshots(POLICY)))
    assert tally.finish(1.0).counts.amended_cases == 1
