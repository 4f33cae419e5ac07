"""Oversized raw updates on a real dev server: refused with the field named, and the case goes on.

Callers in other languages send updates past our client's checks. A payload larger than any valid
action must be refused by the update validator (so it never reaches the handler, the history or
the record), the refusal must say which field made it large, and the case must take the next
valid action. Above Temporal's own blob limit (2 MB on the dev server) the server refuses first;
the case must survive that too.
"""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from cases.actions.parsing import MAX_ACTION_BYTES
from cases.models import CaseState, Status
from starter.client import CaseClient, CaseError
from tests.conftest import case_worker
from tests.support.eventually import eventually
from tests.support.factories import intake

pytestmark = pytest.mark.devserver


async def _refusal(handle, name: str, payload: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises((WorkflowUpdateFailedError, RPCError)) as caught:
        await handle.execute_update(name, payload)
    err = caught.value
    if isinstance(err, WorkflowUpdateFailedError):
        assert isinstance(err.cause, ApplicationError) and err.cause.type == "InvalidAction"
        return err.cause.message
    return str(err)


async def test_oversized_raw_updates_are_refused_and_the_case_acts_on(dev_client, pool, policy):  # type: ignore[no-untyped-def]
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        opened = await client.open(intake())
        handle = client.handle(opened.case_id)
        before = await client.state(opened.case_id)

        # Past our cap, under Temporal's: the validator refuses it and names the field.
        message = await _refusal(handle, "acknowledge", {"actor": "a" * (MAX_ACTION_BYTES * 4)})
        assert message.startswith("acknowledge.actor:"), message
        assert f"{MAX_ACTION_BYTES:,}" in message and len(message) < 300

        # Just over the cap, in a field that is free text, and in a field the model does not have.
        over = MAX_ACTION_BYTES + 1
        message = await _refusal(handle, "note", {"actor": "x", "text": "售" * (over // 3 + 1)})
        assert message.startswith("note.text:"), message
        message = await _refusal(handle, "escalate", {"reason": "r", "padding": "p" * over})
        assert message.startswith("escalate.padding:"), message

        unchanged = await client.state(opened.case_id)
        assert unchanged.last_seq == before.last_seq and unchanged.status == Status.REGISTERED
        assert await _failed_task_causes(handle) == []

        # 3 MB, past Temporal's 2 MB blob limit. The SDK will not send the rejection (it echoes
        # the request), so it fails the workflow task; the server drops the update and answers
        # the caller with an error. The case goes on at the task's next attempt.
        await _refusal(handle, "acknowledge", {"actor": "agent-1", "message": "m" * 3_000_000})

        async def next_action() -> CaseState | None:
            try:
                return await client.act(opened.case_id, "acknowledge", {"actor": "agent-1", "message": "on it"})
            except CaseError as err:
                if "Workflow Task in failed state" in str(err):
                    return None
                raise

        after = await eventually(next_action, lambda s: s is not None, "the next valid action", timeout=60)
        assert after is not None and after.status == Status.ACKNOWLEDGED
        assert after.last_seq > before.last_seq
        too_large = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE
        assert set(await _failed_task_causes(handle)) <= {too_large}
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        rows = await pool.fetch("SELECT data::text AS p FROM case_events WHERE case_id = $1", opened.case_id)
        assert rows and not any("mmmmmmmm" in r["p"] for r in rows)
        await client.act(opened.case_id, "withdraw", {"reason": "test over"})


async def _failed_task_causes(handle) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        event.workflow_task_failed_event_attributes.cause
        async for event in handle.fetch_history_events()
        if event.HasField("workflow_task_failed_event_attributes")
    ]
