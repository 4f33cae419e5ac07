"""The business shape of a case, read from its history, and the models of the no-op baseline.

A `Plan` lists, per phase (the start, then one phase per update), the business activities the real
`AfterSalesCase` scheduled (money, shipment and visit steps: every activity that is not in
`BOOKKEEPING_ACTIVITIES`; activities scheduled by the same workflow task form one parallel batch),
after how many of those batches the update returned, and the SLA timers it armed. Bookkeeping
(the projection write, notifications), local activities and search-attribute upserts are left
out: the baseline is what the case's business needs and nothing else. `plan_from_history` reads a
plan from a quiet (one action at a time) history, so the baseline follows whatever the workflow
in the work tree does. The models live here, not in the baseline workflow module, because the
sandbox re-imports a workflow module for every run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from temporalio.api.history.v1 import HistoryEvent

# Activities that write the record or notify, on the old path and the new one alike.
BOOKKEEPING_ACTIVITIES = frozenset({"record_case", "send_notification", "load_policy"})

# A timer set again for the same instant (within this many seconds) is not a new deadline: the
# baseline keeps the timer it has.
SAME_DEADLINE_S = 1.0


class Phase(BaseModel):
    update: str | None = None
    batches: list[list[str]] = []
    complete_after: int = 0
    timers: list[float] = []  # seconds to each new deadline armed in this phase, in order
    final: bool = False


class Plan(BaseModel):
    phases: list[Phase]
    start_update: str | None = None  # the update sent with the start (update-with-start)

    def updates(self) -> list[str]:
        return [p.update for p in self.phases[1:] if p.update is not None]


class NoopCaseInput(BaseModel):
    case_id: str
    plan: Plan


class NoopResult(BaseModel):
    at: float


class NoopReply(BaseModel):
    phase: int
    ready: bool
    follow_up: bool = False


class NoopState(BaseModel):
    phase: int
    ready_phase: int


class NoopTimerInput(BaseModel):
    target_seconds: float


class NoopTimerReply(BaseModel):
    due: float
    woke: float


def _kind(event: HistoryEvent) -> str:
    return event.WhichOneof("attributes") or ""


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1e6


@dataclass
class _Batch:
    names: list[str]
    wft: int  # the workflow task that scheduled it


def plan_from_history(events: Sequence[HistoryEvent]) -> Plan:
    """Phases of a history recorded with one action at a time (no overlapping phases)."""
    phases: list[Phase] = [Phase()]
    batches: list[list[_Batch]] = [[]]
    update_phase: dict[str, int] = {}
    completed: dict[int, int] = {}  # phase -> the workflow task that completed its update
    first_wft = last_wft = 0
    task_time = 0.0  # workflow.now() of the task running: its WorkflowTaskStarted time
    armed: float | None = None  # the deadline the baseline's one timer is set for
    start_update: str | None = None
    for event in events:
        kind = _kind(event)
        if kind == "workflow_task_started_event_attributes":
            task_time = _at(event)
        elif kind == "workflow_task_completed_event_attributes":
            last_wft = event.event_id
            first_wft = first_wft or last_wft
        elif kind == "workflow_execution_update_accepted_event_attributes":
            accepted = event.workflow_execution_update_accepted_event_attributes
            name = accepted.accepted_request.input.name
            if last_wft == first_wft and len(phases) == 1 and phases[0].update is None:
                # Accepted by the very first workflow task: it came with the start.
                start_update = phases[0].update = name
                update_phase[accepted.protocol_instance_id] = 0
                continue
            phases.append(Phase(update=name))
            batches.append([])
            update_phase[accepted.protocol_instance_id] = len(phases) - 1
        elif kind == "workflow_execution_update_completed_event_attributes":
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            completed[update_phase[update_id]] = last_wft
        elif kind == "activity_task_scheduled_event_attributes":
            scheduled = event.activity_task_scheduled_event_attributes
            name = scheduled.activity_type.name
            if name in BOOKKEEPING_ACTIVITIES:
                continue
            current = batches[-1]
            wft = scheduled.workflow_task_completed_event_id
            if current and current[-1].wft == wft:
                current[-1].names.append(name)
            else:
                current.append(_Batch([name], wft))
        elif kind == "timer_started_event_attributes":
            seconds = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            deadline = task_time + seconds.total_seconds()
            if armed is None or abs(deadline - armed) > SAME_DEADLINE_S:
                phases[-1].timers.append(seconds.total_seconds())
                armed = deadline
        elif kind == "timer_fired_event_attributes":
            armed = None
    for index, (phase, found) in enumerate(zip(phases, batches, strict=True)):
        phase.batches = [b.names for b in found]
        done_wft = completed.get(index)
        # A business step is done before the update returned only if its task came first.
        phase.complete_after = (
            len(found) if done_wft is None else sum(1 for b in found if b.wft < done_wft)
        )
    phases[-1].final = True
    return Plan(phases=phases, start_update=start_update)


@dataclass
class Shape:
    """What one history contains, for the events/activities/timers/updates per case."""

    events: int = 0
    activities: int = 0
    local_activities: int = 0
    timers: int = 0
    updates: int = 0
    workflow_tasks: int = 0
    upserts: int = 0
    history_bytes: int = 0
    activity_types: Counter[str] = field(default_factory=Counter)


def shape_of(events: Sequence[HistoryEvent]) -> Shape:
    shape = Shape(events=len(events))
    for event in events:
        kind = _kind(event)
        shape.history_bytes += event.ByteSize()
        if kind == "activity_task_scheduled_event_attributes":
            shape.activities += 1
            shape.activity_types[
                event.activity_task_scheduled_event_attributes.activity_type.name
            ] += 1
        elif kind == "marker_recorded_event_attributes":
            shape.local_activities += 1
        elif kind == "timer_started_event_attributes":
            shape.timers += 1
        elif kind == "workflow_execution_update_accepted_event_attributes":
            shape.updates += 1
        elif kind == "workflow_task_completed_event_attributes":
            shape.workflow_tasks += 1
        elif kind == "upsert_workflow_search_attributes_event_attributes":
            shape.upserts += 1
    return shape


def mean_shape(shapes: Iterable[Shape]) -> dict[str, float]:
    items = list(shapes)
    if not items:
        return {}
    keys = [
        "events",
        "activities",
        "local_activities",
        "timers",
        "updates",
        "workflow_tasks",
        "upserts",
        "history_bytes",
    ]
    return {k: sum(getattr(s, k) for s in items) / len(items) for k in keys}


# The status each audit event moves a case to (cases/actions/handlers.py, cases/core/machine.py). `rated` and
# `survey_timed_out` lead to follow_up unless the case closes at once.
_STATUS_AFTER = {
    "opened": "registered",
    "acknowledged": "acknowledged",
    "info_requested": "awaiting_customer",
    "customer_replied": "acknowledged",
    "approved": "resolving",
    "rejected": "acknowledged",
    "resolution_executed": "awaiting_confirmation",
    "resolution_failed": "acknowledged",
    "confirmed": "awaiting_rating",
    "accepted_by_silence": "awaiting_rating",
    "reopened": "registered",
    "withdrawn": "withdrawn",
    "closed": "closed",
}
_QUIET = frozenset(
    {
        "notification_queued",
        "clock_met",
        "clock_started",
        "clock_warning",
        "clock_breached",
        "escalated",
        "quality_review_opened",
        "note",
        "assigned",
        "clock_paused",
        "clock_resumed",
        "reclassified",
        "disputed",
    }
)


def status_path(events: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """The statuses a case went through, from its audit trail `(type, data)` in seq order."""
    path: list[str] = []
    pending_rating = False
    for kind, data in events:
        status: str | None = None
        if kind == "resolution_proposed":
            status = "awaiting_approval" if data.get("needs_approval") else "resolving"
        elif kind in ("rated", "survey_timed_out"):
            pending_rating = True
            continue
        elif kind in _STATUS_AFTER:
            status = _STATUS_AFTER[kind]
        elif kind in _QUIET:
            continue
        if pending_rating and kind != "closed":
            path.append("follow_up")
        pending_rating = False
        if status is not None and (not path or path[-1] != status):
            path.append(status)
    if pending_rating:
        path.append("follow_up")
    return path
