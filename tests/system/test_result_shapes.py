"""While cases of build 1.1 drain, their updates still answer with the whole state, where build 1.2
answers with a receipt: the client and the API take both shapes.

The older build is stood in for by a workflow that answers `note` as 1.1 did, after writing its
record as 1.1 did (the whole state, in the same transaction as the event).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.worker import Worker

from activities.record_input import record_case
from activities.store import PostgresProjection
from cases.core.machine import CaseMachine
from cases.ids import workflow_id_for
from cases.models import CaseState, Note, Status
from cases.receipt import CaseReceipt
from starter.client import CaseClient
from tests.support.api_helpers import LiveApi, live_api
from tests.support.eleven_shape_case import ElevenShapeCase
from tests.support.factories import intake
from workflows.sandbox import workflow_runner

pytestmark = pytest.mark.devserver


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    async with live_api(dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("shapes")) as live:
        yield live


async def _an_eleven_case(api: LiveApi, policy: Any) -> tuple[CaseState, str]:
    """A 1.1 case whose record already holds the state its `note` will answer with."""
    case_id = f"shape{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    machine = CaseMachine.open(case_id, intake(case_id=case_id), policy.snapshot(now), now)
    machine.apply("note", Note(actor="agent-1", text="from the older build"), now)
    await PostgresProjection(api.pool).write(record_case(machine.state, machine.events))
    queue = f"shapes-{uuid.uuid4().hex[:8]}"
    return machine.state, queue


async def test_the_client_reads_a_whole_state_answer_as_a_receipt(api: LiveApi, policy) -> None:  # type: ignore[no-untyped-def]
    state, queue = await _an_eleven_case(api, policy)
    async with Worker(api.temporal, task_queue=queue, workflows=[ElevenShapeCase], workflow_runner=workflow_runner()):
        await api.temporal.start_workflow(
            ElevenShapeCase.run, state, id=workflow_id_for(state.case_id), task_queue=queue
        )
        receipt = await CaseClient(api.temporal, queue).act(state.case_id, "note", {"actor": "agent-1", "text": "hi"})
    assert receipt == CaseReceipt.of(state)
    assert receipt.status == Status.REGISTERED and receipt.last_seq == state.last_seq


async def test_the_api_answers_a_whole_state_case_with_its_recorded_state(api: LiveApi, policy) -> None:  # type: ignore[no-untyped-def]
    state, queue = await _an_eleven_case(api, policy)
    async with Worker(api.temporal, task_queue=queue, workflows=[ElevenShapeCase], workflow_runner=workflow_runner()):
        await api.temporal.start_workflow(
            ElevenShapeCase.run, state, id=workflow_id_for(state.case_id), task_queue=queue
        )
        async with api.client(await api.key("agent", "agent-li")) as staff:
            answered = await staff.post(f"/v1/cases/{state.case_id}/actions/note", json={"text": "hi"})
    assert answered.status_code == 200, answered.text
    assert CaseState.model_validate(answered.json()) == state


async def test_the_api_answers_a_receipt_case_with_the_state_the_action_left(api: LiveApi) -> None:
    """A case of this build answers with a receipt; the API's answer is the whole state, read
    from the record, and it is what the case itself holds."""
    async with api.client(await api.key("system")) as backend:
        opened = await backend.post("/v1/cases", json=intake().model_dump(mode="json"))
        case_id = opened.json()["case_id"]
        acked = await backend.post(f"/v1/cases/{case_id}/actions/note", json={"text": "hi"})
        assert acked.status_code == 200, acked.text
        answered = CaseState.model_validate(acked.json())
        queried = CaseState.model_validate((await backend.get(f"/v1/cases/{case_id}")).json())
    assert answered.last_seq >= 2 and answered.model_dump() == queried.model_dump()
