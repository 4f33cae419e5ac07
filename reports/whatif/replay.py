"""One recorded case replayed through the pure `CaseMachine` under a policy: `replay`.

The loop is the case's own (`cases/core/loop.py`), which the workflow drives too: open the case,
then between inputs fire what falls due at each of the machine's own wake instants (`next_wake`),
feed each recorded input at its recorded instant, and after each change take the loop's next step,
answering for the roster where it asks. The roster's answers are the recorded ones
(`routing_answers`) when the request fits; otherwise the answer is read from the event the case
recorded, or is the silent answer the roster gives when it has nothing to say. An action the
replayed case refuses is skipped and counted, and so is a workflow result it no longer waits for;
nothing a recorded trail holds can crash the replay.
A case the candidate leaves open where the record ended it goes on firing its wakes up to the
moment the record was read (`Timeline.as_of`): its later breaches are the candidate's too.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from cases.actions.registry import ACTION_MODELS
from cases.core import loop
from cases.core.machine import CaseMachine
from cases.core.moves import InvalidAction
from cases.fulfilment.models import RepairJob
from cases.models import FINAL_STATUSES, CaseEvent, CaseState, ExecutedStep, Status
from cases.platform.models import ItemRepairs
from cases.policy.snapshot import PolicySnapshot
from cases.routing import placement
from cases.routing.models import RoutingChange, RoutingOp, RoutingResult, RoutingStatus
from reports.whatif.timeline import Step, StepKind, Timeline

# A machine whose wake does not move after firing would spin; no real case wakes this often.
MAX_WAKES = 10_000
# How late a recorded wake may come after the instant it was set for and still be taken as that
# timer firing (a busy worker); beyond it the replay fires on the instant itself.
TIMER_LAG = timedelta(minutes=5)
_EMITS = {RoutingStatus.QUEUED: "queued", RoutingStatus.ASSIGNED: "assigned", RoutingStatus.RELEASED: "load_released"}
_ANSWERS: dict[RoutingOp, frozenset[RoutingStatus]] = {
    RoutingOp.PLACE: frozenset({RoutingStatus.QUEUED, RoutingStatus.ASSIGNED, RoutingStatus.UNROUTED}),
    RoutingOp.TAKE: frozenset({RoutingStatus.ASSIGNED, RoutingStatus.RELEASED, RoutingStatus.UNROUTED}),
    RoutingOp.RELEASE: frozenset(RoutingStatus),
}


@dataclass
class Replayed:
    events: list[CaseEvent]
    final: CaseState
    actions: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    after_deadline: int = 0
    results_skipped: int = 0
    error: str | None = None


class _Run:
    def __init__(self, timeline: Timeline, policy: PolicySnapshot) -> None:
        self.tl = timeline
        self.m = CaseMachine.open(
            timeline.case_id, timeline.intake, policy, timeline.opened_at, item_repairs=_repairs_read(timeline, None)
        )
        self.steps = timeline.steps
        self.i = 0
        self.w = 0  # recorded wakes before this one are behind the replay
        self.consumed: set[int] = set()
        self.out = Replayed(events=self.m.events, final=self.m.state)
        self.taking: Step | None = None  # the input being fed back, for an error's description

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> Replayed:
        self.settle(self.tl.opened_at)
        while self.i < len(self.steps):
            step = self.steps[self.i]
            if step.seq not in self.consumed:
                # What falls due first may answer with this very step (a roster event).
                self.advance(step.at, inclusive=False)
            self.i += 1
            if step.seq in self.consumed:
                continue
            self.taking = step
            self.take(step)
            self.settle(step.at)
            self.taking = None
        self.advance(self.tl.horizon, inclusive=True)
        if self.m.state.status not in FINAL_STATUSES and self.tl.as_of > self.tl.horizon:
            # The record ended here, the candidate's case did not: its timers go on until the
            # moment of reading, as a running case's would have.
            self.advance(self.tl.as_of, inclusive=True)
        return self.out

    def advance(self, until: datetime, inclusive: bool) -> None:
        """Fire every wake before `until` (or at it), as the workflow's timer would."""
        for _ in range(MAX_WAKES):
            wake = self.m.next_wake()
            if wake is None or wake[0] > until or (wake[0] == until and not inclusive):
                return
            seq = self.m.state.last_seq
            self.settle(self._woke(wake[0], until, inclusive))
            if self.m.state.last_seq == seq and self.m.next_wake() == wake:
                return  # nothing was due after all: the workflow would wait for an input

    def _woke(self, due: datetime, until: datetime, inclusive: bool) -> datetime:
        """When the recorded case's timer for `due` fired: the first recorded wake at or after
        it, within the lag a timer can have and before the next input; else `due` itself."""
        wakes = self.tl.wakes
        k = bisect_left(wakes, due, lo=self.w)
        self.w = k
        if k < len(wakes):
            woke = wakes[k]
            if woke - due <= TIMER_LAG and (woke < until or (inclusive and woke == until)):
                return woke
        return due

    def settle(self, now: datetime) -> None:
        """What the workflow does after a change (`cases/core/loop.py`): fire what is due, and
        answer for the roster while the case asks it; a resolution, a booking or a wait is what a
        recorded input answers."""
        for _ in range(16):
            if loop.next_step(self.m, now) != loop.Step.ROUTE:
                return
            op = placement.pending(self.m.state)
            assert op is not None
            self.answer(op, now)

    # -- inputs --------------------------------------------------------------------------------

    def take(self, step: Step) -> None:
        if step.kind == StepKind.ACTION:
            self.act(step)
        elif step.kind == StepKind.RESULT:
            self.result(step)
        else:
            self.notice(step)

    def act(self, step: Step) -> None:
        out = self.out
        out.actions += 1
        out.after_deadline += step.after_deadline
        try:
            data = ACTION_MODELS[step.name].model_validate(step.data)
            if step.name == "request_remedy":
                # The count the recorded case read from the record, as the workflow did.
                read = _repairs_read(self.tl, step.seq)
                if read is not None:
                    self.m.item_history(read)
            self.m.apply(step.name, data, step.at)
        except (InvalidAction, ValidationError):
            if not step.refused:
                out.refused[step.name] = out.refused.get(step.name, 0) + 1

    def result(self, step: Step) -> None:
        m, d, now = self.m, step.data, step.at
        state = m.state
        name = step.name
        if name in ("resolution_executed", "resolution_failed"):
            if state.status != Status.RESOLVING or state.proposal is None:
                self.out.results_skipped += 1
                return
            if name == "resolution_executed":
                m.resolution_executed([ExecutedStep.model_validate(s) for s in d.get("steps", [])], now)
            else:
                compensated = [ExecutedStep.model_validate(s) for s in d.get("compensated", [])]
                m.resolution_failed(str(d.get("step")), str(d.get("error")), compensated, now)
        elif name == "repair_booked":
            # A booking recorded as superseded (or one this replay no longer wants) goes to a
            # job the case does not hold, so the machine supersedes it as it did then.
            job = state.repair if step.data.get("scheduled_for") is not None else None
            when = _instant(d.get("scheduled_for")) or now
            m.repair_booked(job or RepairJob(), str(d.get("reference")), when, now)
        elif name == "repair_booking_failed":
            job = state.repair if "step" in d else None
            m.repair_booking_failed(job or RepairJob(), str(d.get("error")), now)
        elif name == "follow_up_scheduled":
            m.follow_up_scheduled(str(d.get("reference")), _instant(d.get("scheduled_for")) or now, now)
        elif name == "follow_up_booking_superseded":
            if state.status == Status.FOLLOW_UP and state.follow_up and not state.follow_up.reference:
                self.out.results_skipped += 1  # the replayed case still wants the booking
                return
            m.follow_up_scheduled(str(d.get("reference")), now, now)

    # -- the roster ----------------------------------------------------------------------------

    def answer(self, op: RoutingOp, now: datetime) -> None:
        m = self.m
        state = m.state
        taken_by = state.routing.take_agent
        request = placement.request(m, now)
        recorded = self.tl.answers.get(state.routing.asked)
        change = recorded.change if recorded is not None and recorded.change.status in _ANSWERS[op] else None
        step = self._next_routing_step()
        if change is None and step is not None and _fits(op, step) and step.at >= now:
            change = self._change_from(step, request.at)
        if change is None:
            change = self._silent(op, now)
        emits = _emits(state, change, manual=op == RoutingOp.TAKE)
        at = now
        if emits is not None and step is not None and step.name == emits:
            self.consumed.add(step.seq)
            at = step.at
        m.routing_settled(op, change, at, taken_by)

    def notice(self, step: Step) -> None:
        """A roster event with no request of ours behind it: another case's release assigned
        this one from the queue (a signal, in the workflow). The roster recorded what it told
        the case among that other case's answer; failing that, the event says it."""
        change = None
        notices = self.tl.notices
        for k, recorded in enumerate(notices):
            if recorded.agent == step.data.get("handler") and _EMITS.get(recorded.status) == step.name:
                change = notices.pop(k)
                break
        self.m.routing_notice(change or self._change_from(step, step.at), step.at)

    def _next_routing_step(self) -> Step | None:
        """The next unconsumed input, if it is a roster event: the answer being waited for."""
        for step in self.steps[self.i:]:
            if step.seq in self.consumed:
                continue
            return step if step.kind == StepKind.ROUTING else None
        return None

    def _change_from(self, step: Step, asked_at: datetime) -> RoutingChange:
        state = self.m.state
        r = state.routing
        d = step.data
        status = {"queued": RoutingStatus.QUEUED, "assigned": RoutingStatus.ASSIGNED}.get(
            step.name, RoutingStatus.RELEASED
        )
        at = asked_at
        if status == RoutingStatus.ASSIGNED and r is not None and r.queued_at is not None:
            # The roster decided when another case freed the seat: the queue time says when.
            waited = float(d.get("queue_seconds") or 0.0) - r.queue_seconds
            at = r.queued_at + timedelta(milliseconds=round(waited * 1000))
        return RoutingChange(
            case_id=state.case_id,
            workflow_id=state.workflow_id,
            seq=(r.seq if r is not None else 0) + 1,
            status=status,
            team=d.get("team") or (r.team if r is not None else None),
            agent=d.get("handler"),
            lead=self.tl.final.routing.lead,
            at=at,
            next_check_at=_instant(d.get("next_check_at")),
        )

    def _silent(self, op: RoutingOp, now: datetime) -> RoutingChange:
        """What the roster answers without a word in the trail: nothing changed for it."""
        state = self.m.state
        r = state.routing
        assert r is not None
        status = r.status
        agent = state.handler if status == RoutingStatus.ASSIGNED else None
        if op == RoutingOp.TAKE and status in placement.HOLDING:
            status, agent = RoutingStatus.ASSIGNED, r.take_agent
        if status == RoutingStatus.PENDING or (status == RoutingStatus.ASSIGNED and agent is None):
            status = RoutingStatus.UNROUTED
        return RoutingChange(
            case_id=state.case_id, workflow_id=state.workflow_id, seq=r.seq + 1, status=status,
            team=r.team, agent=agent, lead=r.lead, at=now,
        )


def _fits(op: RoutingOp, step: Step) -> bool:
    if op == RoutingOp.PLACE:
        return step.name in ("queued", "assigned")
    return step.name == "load_released"


def _emits(state: CaseState, change: RoutingChange, manual: bool) -> str | None:
    """The audit event `placement.apply` will emit for `change`, if any (mirrors its rules)."""
    r = state.routing
    if r is None or change.status == RoutingStatus.UNROUTED or change.seq <= r.seq:
        return None
    if change.status == RoutingStatus.ASSIGNED:
        silent = manual or state.status in FINAL_STATUSES or change.agent is None
        return None if silent else _EMITS[change.status]
    if change.status == RoutingStatus.QUEUED:
        return None if r.status == RoutingStatus.QUEUED else _EMITS[change.status]
    return _EMITS[change.status] if r.status in placement.HOLDING else None


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def describe_error(err: BaseException) -> str:
    """The kind of an error and where in the data it arose, never the values: messages (a
    pydantic one quotes `input_value=...`, `fromisoformat` the text) can hold a customer's words."""
    name = type(err).__name__
    if isinstance(err, ValidationError):
        places = sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in err.errors()})
        shown = ", ".join(places[:3]) + (", ..." if len(places) > 3 else "")
        return f"{name} in {err.title} ({shown})"
    return name


def replay(timeline: Timeline, policy: PolicySnapshot) -> Replayed:
    """Replay one case under `policy`. A case the machine cannot even open, or one that breaks
    it part way, comes back with `error` set and whatever it had replayed, never an exception."""
    run = None
    try:
        run = _Run(timeline, policy)
        return run.run()
    except Exception as err:  # noqa: BLE001 - one bad trail must not stop a quarter's replay
        if run is None:
            return Replayed(events=[], final=timeline.final, error=f"{describe_error(err)} opening the case")
        step = run.taking
        where = f" at {step.name} (event {step.seq})" if step is not None else ""
        run.out.error = describe_error(err) + where
        return run.out


def routing_answers(rows: list[tuple[str, Any]]) -> dict[int, RoutingResult]:
    """`routing_answers` rows (key `case:n`, result) by request number."""
    found: dict[int, RoutingResult] = {}
    for key, result in rows:
        number = key.rpartition(":")[2]
        if number.isdigit():
            found[int(number)] = RoutingResult.model_validate(result)
    return found


def _repairs_read(timeline: Timeline, seq: int | None) -> ItemRepairs | None:
    """The item's earlier repairs as the recorded request (`seq`, or the intake's when None) read
    them from the record, with the item it named."""
    for event in timeline.recorded:
        if event.type != "remedy_requested" or (event.seq != seq if seq is not None else not event.data.get("at_open")):
            continue
        request = timeline.intake.request if seq is None else None
        facts = event.data.get("order") or (request.order.model_dump(mode="json") if request and request.order else {})
        sku, serial = facts.get("sku"), facts.get("serial")
        if sku and serial:
            return ItemRepairs(sku=sku, serial=serial, repairs=int(event.data.get("prior_repairs") or 0))
    return None
