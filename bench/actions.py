"""Temporal Cloud billable actions of one workflow execution, counted from its history, and their cost.

The rules are Temporal Cloud's "Actions" page, https://docs.temporal.io/evaluate/cloud/actions
(formerly https://docs.temporal.io/cloud/actions), which maps each action type to the history
event that shows it:

- workflow started: 1 (client start, continue-as-new, child start; a de-duplicated start is free;
  update-with-start counts its start here and its update below);
- activity: 1 per activity scheduled, plus 1 per retry (`ActivityTaskStarted.attempt` - 1);
- local activities and markers: every `RecordMarker` command of one workflow task together count 1,
  however many local activities (or `workflow.patched` markers) that task recorded, plus the
  retries the SDK reports in `WorkflowTaskCompleted.metering_metadata`;
- timer started: 1, including the implicit timer of `wait_condition(..., timeout=...)`;
- search-attribute upsert: 1 per `UpsertSearchAttributes` command, however many attributes it
  sets; attributes given at start are free, and so is an upsert of `TemporalChangeVersion` alone
  (the versioning attribute `workflow.patched` sets);
- update: 1 per accepted update (`WorkflowExecutionUpdateAccepted`) and 1 per rejected update,
  which never reaches the history, so the client counts those; a de-duplicated update is free;
- signal received 1 (a signal sent to another workflow is billed in the receiver's history),
  child workflow initiated 2, workflow options updated 1, Nexus operation scheduled or cancel
  requested 1, workflow reset 1;
- query: 1 per query the worker receives; not in the history, so the client counts them;
- side effects: the Python SDK has none; activity heartbeats and workflow-task heartbeats: none
  happen on these paths (the history does not show them either).

The list price is the Pay-As-You-Go price of https://docs.temporal.io/cloud/pricing: actions
"start at $50 per million Actions ($0.00005 per Action)"; the Developer plan pays that at every
volume, and larger plans get volume discounts (from $45 per million past 5 M a month).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent

LIST_PRICE_PER_MILLION_USD = 50.0
PRICE_URL = "https://docs.temporal.io/cloud/pricing"

# Exempt from the upsert count: the SDK upserts it for workflow versioning.
_VERSIONING_ATTRIBUTE = "TemporalChangeVersion"

_ONE_EACH = {
    "workflow_execution_started_event_attributes": "workflow started",
    "activity_task_scheduled_event_attributes": "activity",
    "timer_started_event_attributes": "timer",
    "workflow_execution_update_accepted_event_attributes": "update",
    "workflow_execution_signaled_event_attributes": "signal",
    "workflow_execution_options_updated_event_attributes": "options updated",
    "nexus_operation_scheduled_event_attributes": "nexus",
    "nexus_operation_cancel_requested_event_attributes": "nexus",
}


def billable(
    events: Sequence[HistoryEvent], *, queries: int = 0, update_calls: int | None = None
) -> Counter[str]:
    """Billable actions by kind. `queries` and `update_calls` are what the client sent this
    workflow: queries never reach the history, and neither do rejected updates (calls that did
    not become an accepted update)."""
    actions: Counter[str] = Counter()
    marker_tasks: set[int] = set()
    for event in events:
        kind = event.WhichOneof("attributes") or ""
        if kind in _ONE_EACH:
            actions[_ONE_EACH[kind]] += 1
        elif kind == "activity_task_started_event_attributes":
            actions["activity retry"] += max(0, event.activity_task_started_event_attributes.attempt - 1)
        elif kind == "marker_recorded_event_attributes":
            marker_tasks.add(event.marker_recorded_event_attributes.workflow_task_completed_event_id)
        elif kind == "workflow_task_completed_event_attributes":
            meta = event.workflow_task_completed_event_attributes.metering_metadata
            actions["local activity retry"] += meta.nonfirst_local_activity_execution_attempts
        elif kind == "upsert_workflow_search_attributes_event_attributes":
            fields = set(
                event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            )
            if fields - {_VERSIONING_ATTRIBUTE}:
                actions["search-attribute upsert"] += 1
        elif kind == "start_child_workflow_execution_initiated_event_attributes":
            actions["child workflow"] += 2
        elif kind == "workflow_task_failed_event_attributes":
            cause = event.workflow_task_failed_event_attributes.cause
            if cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW:
                actions["reset"] += 1
    actions["local activities (per workflow task)"] = len(marker_tasks)
    actions["query"] = queries
    if update_calls is not None:
        actions["rejected update"] = max(0, update_calls - actions["update"])
    return +actions


def cost_usd(actions_per_case: float, cases: int = 1000) -> float:
    return actions_per_case * cases * LIST_PRICE_PER_MILLION_USD / 1_000_000


def describe(actions: Counter[str], runs: int = 1) -> str:
    """`activity 2, timer 1.5, ...` per run, largest first."""
    return ", ".join(f"{kind} {count / runs:.3g}" for kind, count in actions.most_common())
