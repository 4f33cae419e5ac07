"""The stored state stays the workflow's state when a record carries only the fields that moved,
including after a task that was retried once its record had committed: the retry decides at a
later instant, so its fields were computed on a state the store does not hold."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.contracts import RecordCase, RecordResult
from activities.memory import MemoryProjection
from activities.record_input import StateDelta, record_case
from activities.store import PostgresProjection, Projection
from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine
from cases.models import CaseState, Note
from tests.support.factories import intake


async def _stored(projection: Projection, pool: Any, case_id: str) -> dict[str, Any]:
    if isinstance(projection, MemoryProjection):
        return projection.cases[case_id].model_dump(mode="json")
    text = await pool.fetchval("SELECT state::text FROM cases WHERE case_id = $1", case_id)
    return CaseState.model_validate_json(text).model_dump(mode="json")


async def _record(projection: Projection, machine: CaseMachine, delta: StateDelta) -> RecordResult:
    """As the workflow records: the moved fields, and the whole state when the store says so."""
    events, machine.events = machine.events, []
    result = await projection.write(record_case(machine.state, events, delta=delta))
    delta.settled(result.state_current)
    if not result.state_current:
        again = await projection.write(record_case(machine.state, [], delta=delta))
        delta.settled(again.state_current)
        assert again.state_current
    return result


ACK = ACTION_MODELS["acknowledge"].model_validate({"actor": "agent-1"})

PROJECTIONS: dict[str, Callable[[Any], Projection]] = {
    "postgres": PostgresProjection,
    "memory": lambda _pool: MemoryProjection(),
}


@pytest.fixture(params=sorted(PROJECTIONS))
def projection(request: pytest.FixtureRequest, pool: Any) -> Projection:
    return PROJECTIONS[request.param](pool)


async def test_only_moved_fields_travel_and_the_stored_state_is_whole(projection, pool, policy) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    case_id = f"delta-{uuid.uuid4().hex[:8]}"
    machine = CaseMachine.open(case_id, intake(case_id=case_id), policy.snapshot(now), now)
    delta = StateDelta()
    await _record(projection, machine, delta)
    machine.apply("note", Note(actor="agent-1", text="called"), now + timedelta(minutes=1))
    request: RecordCase = record_case(machine.state, machine.events, delta=copy.deepcopy(delta))
    assert request.base != "" and set(request.state) < set(machine.state.model_dump())
    assert "intake" not in request.state and request.state["last_seq"] == machine.state.last_seq
    await _record(projection, machine, delta)
    assert await _stored(projection, pool, case_id) == machine.state.model_dump(mode="json")


async def test_a_task_retried_after_its_record_committed_leaves_its_own_state(projection, pool, policy) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    case_id = f"retry-{uuid.uuid4().hex[:8]}"
    machine = CaseMachine.open(case_id, intake(case_id=case_id), policy.snapshot(now), now)
    delta = StateDelta()
    await _record(projection, machine, delta)
    # The first attempt acknowledges at 5:00 and its record commits; the worker dies before the
    # task completes. The retry replays to the same point and acknowledges at 5:20.
    first, retry = copy.deepcopy(machine), copy.deepcopy(machine)
    first_delta, retry_delta = copy.deepcopy(delta), copy.deepcopy(delta)
    first.apply("acknowledge", ACK, now + timedelta(minutes=5))
    await _record(projection, first, first_delta)
    retry.apply("acknowledge", ACK, now + timedelta(minutes=5, seconds=20))
    result = await _record(projection, retry, retry_delta)
    assert not result.projection_written  # the same sequence numbers: the row keeps its columns
    assert await _stored(projection, pool, case_id) == retry.state.model_dump(mode="json")
    # From here on, fields merge onto the retry's state.
    retry.apply("note", Note(actor="agent-1", text="later"), now + timedelta(minutes=9))
    await _record(projection, retry, retry_delta)
    stored = await _stored(projection, pool, case_id)
    assert stored == retry.state.model_dump(mode="json")
    assert stored["first_response_at"] != first.state.model_dump(mode="json")["first_response_at"]



async def test_a_whole_state_from_an_earlier_worker_still_lands(pool, policy) -> None:  # type: ignore[no-untyped-def]
    """Workers of 1.1 call `record_case` with the whole state, which now goes through the same body."""
    now = datetime.now(UTC)
    case_id = f"old-{uuid.uuid4().hex[:8]}"
    machine = CaseMachine.open(case_id, intake(case_id=case_id), policy.snapshot(now), now)
    for step in range(2):
        if step:
            machine.apply("note", Note(actor="agent-1", text="again"), now + timedelta(minutes=1))
        events, machine.events = machine.events, []
        request = record_case(machine.state, events)
        doc = {"case": request.row, "events": [e.model_dump(mode="json") | {"public": {}} for e in events],
               "clocks": request.clocks, "survey": request.survey, "outbox": []}
        written = await pool.fetchrow("SELECT * FROM record_case($1::jsonb, $2::jsonb)",
                                      json.dumps(doc), machine.state.model_dump_json())
        assert written["projected"] and written["events_written"] == len(events)
        assert await _stored(PostgresProjection(pool), pool, case_id) == machine.state.model_dump(mode="json")
