"""The shape of the golden histories: what each path costs in events, tasks and round trips.

Each history must show the business-minimal path: the record as a local activity in the deciding
task, no bookkeeping activities, every update answered in the task that accepted it, at most one
upsert of our attributes per task, a timer re-armed only for an earlier deadline, and no patch
marker or `TemporalChangeVersion` upsert (a change ships as a new build, docs/DEPLOY.md).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.golden import RELEASE

HISTORIES = Path(__file__).parent.parent / "histories" / RELEASE
FILES = sorted(HISTORIES.glob("*.json"))
MAIN_PATHS = {
    "general", "complex_follow_up", "urgent_approval", "approval_rejected_then_exchange",
    "dispute_reopen", "continue_as_new", "continue_as_new_run1", "return_refund", "return_lapsed",
    "inspection_failed_silent_pass", "repair_not_fixable_then_fixed", "conversation", "routing",
    "routing_2", "merchant_general", "request_silence_refund", "request_return_silences", "request_rejected",
    "three_guarantees_after_repairs", "three_guarantees_after_repairs_2", "intervention_platform_pays",
    "intervention_appeal",
}
BOOKKEEPING = {"record_case", "send_notification"}


def _events(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_text())["events"]
    return events


def _type(event: dict[str, Any]) -> str:
    return str(event["eventType"]).removeprefix("EVENT_TYPE_")


def _tasks(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The commands and messages each completed workflow task produced, task by task."""
    tasks: list[list[dict[str, Any]]] = []
    for e in events:
        if _type(e) == "WORKFLOW_TASK_COMPLETED":
            tasks.append([])
        elif tasks and _type(e) not in {"WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED"}:
            tasks[-1].append(e)
    return tasks


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_there_is_one_history_per_path_and_no_other() -> None:
    assert {p.stem for p in FILES} == MAIN_PATHS


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_no_history_carries_a_patch(path: Path) -> None:
    events = _events(path)
    markers = [
        e["markerRecordedEventAttributes"]["markerName"] for e in events if _type(e) == "MARKER_RECORDED"
    ]
    assert "core_patch" not in markers
    assert "TemporalChangeVersion" not in json.dumps(events)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_record_is_local_and_each_update_is_answered_in_its_task(path: Path) -> None:
    events = _events(path)
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events
        if _type(e) == "ACTIVITY_TASK_SCHEDULED"
    ]
    assert not BOOKKEEPING & set(scheduled), scheduled
    for task in _tasks(events):
        accepted = [e for e in task if _type(e) == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"]
        completed = [e for e in task if _type(e) == "WORKFLOW_EXECUTION_UPDATE_COMPLETED"]
        assert len(completed) == len(accepted), f"an update outlived its task in {path.name}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_task_upserts_at_most_once(path: Path) -> None:
    for task in _tasks(_events(path)):
        assert len([e for e in task if _type(e) == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"]) <= 1


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_timer_is_rearmed_a_timer_only_for_an_earlier_deadline(path: Path) -> None:
    armed: dict[str, datetime] = {}
    cancelled: list[datetime] = []
    task_time: datetime | None = None
    for e in _events(path):
        kind = _type(e)
        if kind == "WORKFLOW_TASK_STARTED":
            # The workflow's clock in this task: a timer's instant is counted from it.
            task_time, cancelled = _time(e["eventTime"]), []
        elif kind == "TIMER_CANCELED":
            cancelled.append(armed.pop(e["timerCanceledEventAttributes"]["timerId"]))
        elif kind == "TIMER_STARTED":
            assert task_time is not None
            attrs = e["timerStartedEventAttributes"]
            fires = task_time + timedelta(seconds=float(attrs["startToFireTimeout"].removesuffix("s")))
            assert all(fires < earlier for earlier in cancelled), path.name
            assert not armed, f"a second timer armed beside another in {path.name}"
            armed[attrs["timerId"]] = fires
        elif kind == "TIMER_FIRED":
            armed.pop(e["timerFiredEventAttributes"]["timerId"], None)


def test_the_general_path_costs_at_most_50_events() -> None:
    assert len(_events(HISTORIES / "general.json")) <= 50


def test_the_routing_history_was_assigned_from_the_queue_by_another_case() -> None:
    # The case passed over by its agent freed a seat for the urgent case and told it; it was
    # then assigned itself when a withdrawal freed the next seat.
    for name, tells in (("routing", 1), ("routing_2", 0)):
        events = _events(HISTORIES / f"{name}.json")
        signals = [
            e["workflowExecutionSignaledEventAttributes"]["signalName"]
            for e in events
            if _type(e) == "WORKFLOW_EXECUTION_SIGNALED"
        ]
        assert signals == ["routed"], name
        told = [e for e in events if _type(e) == "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"]
        assert len(told) == tells, name
