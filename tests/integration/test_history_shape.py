"""The shape of the golden histories: what each path costs in events, tasks and round trips.

The histories recorded since the business-minimal path (`lean_*.json`, `fulfilment_*.json` since
the return and repair legs, and `routing_*.json` since routing) must show it: the record
as a local activity in the deciding task, no bookkeeping activities, every update answered in
the task that accepted it, at most one upsert of our attributes per task, and a timer re-armed
only for an earlier deadline. The older histories must show the older path, so each replays on
the path it recorded; only the `fulfilment_` ones carry the patch of the legs, and only the
`routing_` ones that of routing.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workflows.case_workflow import FULFILMENT, LEAN, ROUTING

HISTORIES = Path(__file__).parent.parent / "histories"
FULFILMENT_FILES = sorted(HISTORIES.glob("fulfilment_*.json"))
ROUTING_FILES = sorted(HISTORIES.glob("routing_*.json"))
LEAN_FILES = sorted(HISTORIES.glob("lean_*.json")) + FULFILMENT_FILES + ROUTING_FILES
OLD_FILES = sorted(
    p for p in HISTORIES.glob("*.json") if not p.name.startswith(("lean_", "fulfilment_", "routing_"))
)
NEW_PATHS = {
    "return_refund", "return_lapsed", "inspection_failed_silent_pass",
    "repair_not_fixable_then_fixed", "conversation",
}
BOOKKEEPING = {"record_case", "send_notification"}
# The SDK's own record of a patch; Temporal Cloud does not bill it.
CHANGE_VERSION = "TemporalChangeVersion"


def _events(path: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(path.read_text())["events"]
    return events


def _type(event: dict[str, Any]) -> str:
    return str(event["eventType"]).removeprefix("EVENT_TYPE_")


def _patches(events: list[dict[str, Any]]) -> set[str]:
    found = set()
    for e in events:
        attrs = e.get("markerRecordedEventAttributes", {})
        if attrs.get("markerName") == "core_patch":
            payload = attrs["details"]["patch-data"]["payloads"][0]["data"]
            found.add(json.loads(base64.b64decode(payload))["id"])
    return found


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


def test_there_are_lean_histories_of_every_main_path() -> None:
    old = {p.stem for p in OLD_FILES}
    lean = {p.stem.removeprefix("lean_") for p in LEAN_FILES if p.name.startswith("lean_")}
    assert lean == old
    assert {p.stem.removeprefix("fulfilment_") for p in FULFILMENT_FILES} == old | NEW_PATHS
    routed = {p.stem.removeprefix("routing_") for p in ROUTING_FILES}
    assert routed == old | NEW_PATHS | {"routing", "routing_2"}


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
def test_only_the_newest_histories_took_the_legs(path: Path) -> None:
    patches = _patches(_events(path))
    assert (FULFILMENT in patches) is path.name.startswith("fulfilment_")
    assert (ROUTING in patches) is path.name.startswith("routing_")


@pytest.mark.parametrize("path", OLD_FILES, ids=lambda p: p.stem)
def test_old_histories_took_the_old_path(path: Path) -> None:
    events = _events(path)
    assert LEAN not in _patches(events)
    assert not any(_type(e) == "MARKER_RECORDED" and "record_case" in json.dumps(e) for e in events)


@pytest.mark.parametrize("path", LEAN_FILES, ids=lambda p: p.stem)
def test_lean_histories_record_locally_and_answer_each_update_in_one_task(path: Path) -> None:
    events = _events(path)
    assert LEAN in _patches(events)
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


@pytest.mark.parametrize("path", LEAN_FILES, ids=lambda p: p.stem)
def test_lean_histories_upsert_at_most_once_per_task(path: Path) -> None:
    for task in _tasks(_events(path)):
        ours = [
            e
            for e in task
            if _type(e) == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"
            and set(e["upsertWorkflowSearchAttributesEventAttributes"]["searchAttributes"]["indexedFields"])
            != {CHANGE_VERSION}
        ]
        assert len(ours) <= 1


@pytest.mark.parametrize("path", LEAN_FILES, ids=lambda p: p.stem)
def test_lean_histories_rearm_a_timer_only_for_an_earlier_deadline(path: Path) -> None:
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
    old, lean = _events(HISTORIES / "general.json"), _events(HISTORIES / "lean_general.json")
    assert len(lean) <= 50 < len(old)


def test_the_routing_history_was_assigned_from_the_queue_by_another_case() -> None:
    # The case passed over by its agent freed a seat for the urgent case and told it; it was
    # then assigned itself when a withdrawal freed the next seat.
    for name, tells in (("routing_routing", 1), ("routing_routing_2", 0)):
        events = _events(HISTORIES / f"{name}.json")
        signals = [
            e["workflowExecutionSignaledEventAttributes"]["signalName"]
            for e in events
            if _type(e) == "WORKFLOW_EXECUTION_SIGNALED"
        ]
        assert signals == ["routed"], name
        told = [e for e in events if _type(e) == "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED"]
        assert len(told) == tells, name
        assert ROUTING in _patches(events)
