"""The shape of a case, read from its history, and the models of the no-op baseline that copies it.

A `Plan` lists, per phase (the start, then one phase per update), the activity batches the real
`AfterSalesCase` scheduled (activities scheduled by the same workflow task run in parallel), how
many local activities and search-attribute upserts it made, after how many batches the update
returned, and after how many batches the next action became possible. `plan_from_history` reads a
plan from a quiet (one case at a time) history, so the baseline is sized from what the real
workflow does and follows it when the workflow changes. The models live here, not in the baseline
workflow module, because the sandbox re-imports a workflow module for every run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from temporalio.api.history.v1 import HistoryEvent

# Activities that write the record or notify; every other activity is a resolution or follow-up
# step, after which the real case accepts the customer's next action.
BOOKKEEPING_ACTIVITIES = frozenset({"record_case", "send_notification"})


class Phase(BaseModel):
    update: str | None = None
    local_activities: int = 0
    batches: list[list[str]] = []
    complete_after: int = 0
    ready_after: int = 0
    upserts: int = 0
    final: bool = False


class Plan(BaseModel):
    phases: list[Phase]

    def updates(self) -> list[str]:
        return [p.update for p in self.phases[1:] if p.update is not None]

    def activities(self) -> int:
        return sum(len(b) for p in self.phases for b in p.batches if not b[0].startswith(LOCAL))


class NoopCaseInput(BaseModel):
    case_id: str
    plan: Plan


class NoopCall(BaseModel):
    kind: str
    seq: int = 0


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
    warning_fraction: float = 0.8


class NoopTimerReply(BaseModel):
    due: float
    recorded: float


def _kind(event: HistoryEvent) -> str:
    return event.WhichOneof("attributes") or ""


LOCAL = "local:"


def _local_type(event: HistoryEvent) -> str:
    """`local:<activity type>` of a local-activity marker (its `data` detail is plain JSON)."""
    try:
        payload = event.marker_recorded_event_attributes.details["data"].payloads[0]
        return LOCAL + json.loads(payload.data)["activity_type"]
    except (KeyError, IndexError, ValueError):
        return LOCAL + "unknown"


@dataclass
class _Batch:
    names: list[str]
    wft: int  # the workflow task that scheduled it (or reported it, for a local one)
    event_id: int  # its first event
    local: bool


def plan_from_history(events: Sequence[HistoryEvent]) -> Plan:
    """Phases of a history recorded with one action at a time (no overlapping phases).

    Activities scheduled by one workflow task form one parallel batch; a local activity is a
    batch of its own, in history order (the workflow awaits each one before going on).
    """
    phases: list[Phase] = [Phase()]
    batches: list[list[_Batch]] = [[]]
    update_phase: dict[str, int] = {}
    completed: dict[int, tuple[int, int]] = {}  # phase -> (workflow task, completion event id)
    last_wft = 0
    for event in events:
        kind = _kind(event)
        if kind == "workflow_task_completed_event_attributes":
            last_wft = event.event_id
        elif kind == "workflow_execution_update_accepted_event_attributes":
            attrs = event.workflow_execution_update_accepted_event_attributes
            phases.append(Phase(update=attrs.accepted_request.input.name))
            batches.append([])
            update_phase[attrs.protocol_instance_id] = len(phases) - 1
        elif kind == "workflow_execution_update_completed_event_attributes":
            update_id = event.workflow_execution_update_completed_event_attributes.meta.update_id
            completed[update_phase[update_id]] = (last_wft, event.event_id)
        elif kind == "activity_task_scheduled_event_attributes":
            attrs = event.activity_task_scheduled_event_attributes
            current = batches[-1]
            wft = attrs.workflow_task_completed_event_id
            if current and not current[-1].local and current[-1].wft == wft:
                current[-1].names.append(attrs.activity_type.name)
            else:
                current.append(_Batch([attrs.activity_type.name], wft, event.event_id, False))
        elif kind == "marker_recorded_event_attributes":
            wft = event.marker_recorded_event_attributes.workflow_task_completed_event_id
            batches[-1].append(_Batch([_local_type(event)], wft, event.event_id, True))
            phases[-1].local_activities += 1
        elif kind == "upsert_workflow_search_attributes_event_attributes":
            phases[-1].upserts += 1
    for index, (phase, found) in enumerate(zip(phases, batches, strict=True)):
        phase.batches = [b.names for b in found]
        if index in completed:
            done_wft, done_event = completed[index]
            # A scheduled activity is done only if its task came before the completing task; a
            # local activity reported in that same task, before the completion, is done too.
            phase.complete_after = sum(
                1
                for b in found
                if (b.local and b.event_id < done_event) or (not b.local and b.wft < done_wft)
            )
        else:
            phase.complete_after = len(found)
        steps = [
            i
            for i, b in enumerate(found)
            if {n.removeprefix(LOCAL) for n in b.names} - BOOKKEEPING_ACTIVITIES - {"load_policy"}
        ]
        phase.ready_after = max(phase.complete_after, steps[-1] + 1 if steps else 0)
    phases[-1].final = True
    return Plan(phases=phases)


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


# The status each audit event moves a case to (cases/handlers.py, cases/machine.py). `rated` and
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


def status_path(events: Sequence[tuple[str, dict]]) -> list[str]:
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
