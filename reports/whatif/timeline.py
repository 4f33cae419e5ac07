"""A past case's recorded input timeline, rebuilt from its audit trail: `timeline_of`.

Every audit event is one of three kinds. An *action* (an agent, customer, warehouse or
field-service call) and a *workflow result* (the saga's outcome, a booking, a roster answer) are
inputs: they came from outside the pure `CaseMachine`, so the replay feeds them back at their
recorded instants. Everything else (clock events, notices, escalations on a breach, acceptance by
silence, ...) the machine emits by itself, and the replay regenerates it. An action's spec says
which of its events it recorded and how its input is read back (`cases/actions/trail.py`): what
the audit event does not carry (a proposal's note, the flags a reclassification set) is taken from
the recorded final state where it can be, and otherwise left at the action's default. Unknown event types are counted,
never guessed at. An `amended` event (a policy amendment of the running case, cases/policy/amendment.py)
is an operator's input the trail cannot rebuild: the replay runs on the candidate's rules alone,
and the case is counted as amended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cases.actions.registry import ACTIONS, BY_EVENT
from cases.models import FINAL_STATUSES, CaseIntake, CaseState, Category
from cases.routing.models import RoutingChange, RoutingResult


class StepKind(StrEnum):
    ACTION = "action"  # an update of the action registry (cases/actions/registry.py)
    RESULT = "result"  # the workflow reporting back: saga, bookings
    ROUTING = "routing"  # the roster's word, as the case recorded it


@dataclass(frozen=True)
class Step:
    """One input at its recorded instant; `seq` is the audit event it was read from."""

    seq: int
    at: datetime
    kind: StepKind
    name: str
    data: Mapping[str, Any]
    # The recorded case had just passed a deadline of its own policy (a warning, a breach, a
    # silence) with no other action in between: its timing may have depended on that policy.
    after_deadline: bool = False
    # The recorded case refused this action too (it recorded the attempt): refused again, it is
    # what happened, not a difference.
    refused: bool = False


@dataclass(frozen=True)
class RecordedEvent:
    seq: int
    type: str
    actor: str
    at: datetime
    data: Mapping[str, Any]


@dataclass
class Timeline:
    case_id: str
    intake: CaseIntake
    opened_at: datetime
    steps: list[Step]
    recorded: list[RecordedEvent]
    final: CaseState
    horizon: datetime
    # When the record was read: a case the candidate leaves open is replayed up to then.
    as_of: datetime
    # The roster's recorded answers, by request number (`routing_answers`, key `case:n`).
    answers: dict[int, RoutingResult] = field(default_factory=dict)
    # What other cases' answers told this one (`drained`), in the roster's order.
    notices: list[RoutingChange] = field(default_factory=list)
    # The audit events of the opening task, when the record kept a first attempt of that task
    # that was then retried: the case runs from the retry (its state's `opened_at`), and the
    # record's idempotent writes kept the first attempt's instants for those events.
    stale_opening: int = 0
    # The instants the recorded case woke by itself (a timer), in order: a timer fires a little
    # after its instant, and the case records what it fired at the instant it woke.
    wakes: list[datetime] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)
    amendments: int = 0


# Emitted by the machine on its own, always.
MACHINE_EVENTS = frozenset({
    "opened", "classified_from_text", "clock_started", "clock_paused", "clock_resumed",
    "clock_met", "clock_warning", "clock_breached", "notification_queued", "reopened", "closed",
    "accepted_by_silence", "survey_timed_out", "quality_review_opened", "return_authorized",
    "return_abandoned", "return_lapsed", "repair_requested", "assignment_bypassed",
    "request_agreed_by_silence", "intervention_stage", "evidence_closed", "ruled", "platform_pays_first",
    "ruling_not_carried_out", "ruling_final", "intervention_closed", "recovery_settled",
})
# The machine's own deadlines passing: an action right after one may have answered it.
DEADLINE_EVENTS = frozenset({
    "clock_warning", "clock_breached", "accepted_by_silence", "survey_timed_out",
    "assignment_bypassed", "return_lapsed", "request_agreed_by_silence", "evidence_closed",
    "platform_pays_first", "ruling_not_carried_out", "ruling_final",
})
_ROUTER = "router"
REFUSED_REJECTION = "rejection_refused"
AMENDED = "amended"


def _classify(event: RecordedEvent, previous: RecordedEvent | None) -> tuple[StepKind, str] | None:
    """The input an event records, or None when the machine emits it by itself."""
    t, d = event.type, event.data
    action = BY_EVENT.get(t)
    if action is not None and ACTIONS[action].taken(event, previous):
        return StepKind.ACTION, action
    if t == REFUSED_REJECTION:
        # A merchant's rejection the case refused (and recorded): fed back, it is refused again.
        return StepKind.ACTION, "answer_request"
    if t in ("assigned", "queued", "load_released"):
        return StepKind.ROUTING, t
    if t == "resolution_executed":
        # A fixed repair executes inside `repair_result`; only the saga reports from outside.
        return None if "repair_record" in (d.get("proof") or {}) else (StepKind.RESULT, t)
    if t == "resolution_failed":
        # The saga never books a repair: a failed repair_visit is the repair leg's booking
        # failing for good (`CaseMachine.repair_booking_failed`).
        if d.get("step") == "repair_visit" and not d.get("compensated"):
            return StepKind.RESULT, "repair_booking_failed"
        return StepKind.RESULT, t
    if t in ("repair_booked", "follow_up_scheduled", "follow_up_booking_superseded"):
        return StepKind.RESULT, t
    if t == "repair_booking_superseded":
        return StepKind.RESULT, "repair_booked" if "reference" in d else "repair_booking_failed"
    if t in MACHINE_EVENTS or t == AMENDED or action is not None:
        return None  # emitted by the case itself, or under an action's name (an escalation on a breach)
    raise KeyError(t)


def _steps(
    recorded: Sequence[RecordedEvent], final: CaseState, unmapped: Counter[str]
) -> list[Step]:
    steps: list[Step] = []
    deadline_passed = False
    previous: RecordedEvent | None = None
    for i, event in enumerate(recorded):
        try:
            found = _classify(event, previous)
        except KeyError:
            unmapped[event.type] += 1
            found = None
        previous = event
        if found is None:
            deadline_passed = deadline_passed or event.type in DEADLINE_EVENTS or (
                event.type == "inspection_result" and bool(event.data.get("silent"))
            )
            continue
        kind, name = found
        if kind == StepKind.ACTION:
            data = ACTIONS[name].rebuilt(event, recorded[i + 1:], final)
            refused = event.type == REFUSED_REJECTION
            steps.append(Step(event.seq, event.at, kind, name, data, deadline_passed, refused))
            deadline_passed = False
        else:
            steps.append(Step(event.seq, event.at, kind, name, dict(event.data)))
    return steps


def _original_intake(final: CaseState, recorded: Sequence[RecordedEvent]) -> CaseIntake:
    """The intake as sent: the final one less what the case itself changed on it.

    Flags read from the description were unset when the case opened; the category is the one
    the `opened` event names. A reclassification's flags are not in its audit event, so other
    flags are taken as they ended.
    """
    intake = final.intake
    opened = recorded[0]
    text_flags = next(
        (e.data.get("flags") or [] for e in recorded[1:3] if e.type == "classified_from_text"), []
    )
    flags = intake.flags.model_copy(update={flag: False for flag in text_flags})
    category = Category(opened.data.get("category", intake.category.value))
    return intake.model_copy(update={"flags": flags, "category": category})


def timeline_of(
    state: Mapping[str, Any] | CaseState,
    events: Sequence[RecordedEvent],
    as_of: datetime,
    answers: Mapping[int, RoutingResult] | None = None,
    notices: Sequence[RoutingChange] = (),
) -> Timeline:
    """The timeline of one recorded case (its final state and its whole audit trail, in seq
    order). `as_of` is when the record was read: a case still open is replayed up to then."""
    final = state if isinstance(state, CaseState) else CaseState.model_validate(state)
    if not events or events[0].type != "opened":
        raise ValueError(f"case {final.case_id}: the audit trail does not start with `opened`")
    unmapped: Counter[str] = Counter()
    steps = _steps(events, final, unmapped)
    last = events[-1].at
    busy = {step.at for step in steps} | {events[0].at, final.opened_at}
    stale = 0
    if events[0].at != final.opened_at:
        stale = sum(1 for e in events if e.at == events[0].at)
    wakes = sorted({e.at for e in events if e.at not in busy})
    horizon = last if final.status in FINAL_STATUSES else max(last, as_of)
    return Timeline(
        case_id=final.case_id,
        intake=_original_intake(final, events),
        opened_at=final.opened_at,
        steps=steps,
        recorded=list(events),
        final=final,
        horizon=horizon,
        as_of=as_of,
        answers=dict(answers or {}),
        notices=sorted(notices, key=lambda c: c.seq),
        unmapped=unmapped,
        wakes=wakes,
        stale_opening=stale,
        amendments=sum(1 for e in events if e.type == AMENDED),
    )
