"""Update-with-start on the dev server (the time-skipping server has none): a caller opens a case
and acts on it in one request, answered in the case's first workflow task, with the audit rows
committed by the time the answer arrives.
"""

from __future__ import annotations

import json
import uuid

import pytest

from starter.client import CaseClient, CaseError
from tests.conftest import case_worker
from tests.support.factories import intake
from tests.system.test_cli import assert_one_line_user_error, run_cli_async


async def test_open_and_acknowledge_in_one_request(dev_server, dev_client, pool, policy):  # type: ignore[no-untyped-def]
    case = intake(order_id=f"UWS-{uuid.uuid4().hex[:6]}")
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        state = await client.open_and_act(case, "acknowledge", {"actor": "agent-7"})
        # Read-your-write: the rows are in PostgreSQL when the answer arrives.
        recorded = await pool.fetch(
            "SELECT type FROM case_events WHERE case_id = $1 ORDER BY seq", case.case_id
        )
        assert state.status.value == "acknowledged"
        assert [r["type"] for r in recorded][0] == "opened"
        assert "acknowledged" in [r["type"] for r in recorded]
        assert len(recorded) == state.last_seq
        assert await pool.fetchval(
            "SELECT status FROM cases WHERE case_id = $1", case.case_id
        ) == "acknowledged"

        # The same id again reaches the running case instead of starting another.
        again = await client.open_and_act(case, "note", {"actor": "agent-7", "text": "called back"})
        assert again.last_seq > state.last_seq
        runs = [w async for w in dev_client.list_workflows(f"WorkflowId = 'case-{case.case_id}'")]
        assert len(runs) == 1

        history = await client.handle(case.case_id).fetch_history()
        kinds = [e.WhichOneof("attributes") for e in history.events]
        first_task_end = kinds.index("workflow_task_completed_event_attributes")
        second_task = kinds.index("workflow_task_scheduled_event_attributes", first_task_end)
        first_task = kinds[first_task_end:second_task]
        assert "workflow_execution_update_accepted_event_attributes" in first_task
        assert "workflow_execution_update_completed_event_attributes" in first_task
        assert "activity_task_scheduled_event_attributes" not in kinds
        # The attributes given at start already said "acknowledged": the first task upserts none.
        assert "upsert_workflow_search_attributes_event_attributes" not in first_task


async def test_open_and_act_refuses_a_bad_action_and_starts_nothing(dev_server, dev_client, pool, policy):  # type: ignore[no-untyped-def]
    case = intake(order_id=f"UWS-{uuid.uuid4().hex[:6]}")
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        with pytest.raises(CaseError, match="rate.score"):
            await client.open_and_act(case, "rate", {"score": 9})
        with pytest.raises(CaseError, match="unknown action"):
            await client.open_and_act(case, "pay_me", {})
        with pytest.raises(CaseError, match="not found"):
            await client.state(case.case_id)


async def test_cli_open_with_act(dev_server, dev_client, pool, policy, tmp_path):  # type: ignore[no-untyped-def]
    case = intake(order_id=f"UWS-{uuid.uuid4().hex[:6]}")
    path = tmp_path / "case.json"
    path.write_text(case.model_dump_json())
    async with case_worker(dev_client, pool, policy) as task_queue:
        def run(*a: str):  # type: ignore[no-untyped-def]
            return run_cli_async(*a, address=dev_server.address, task_queue=task_queue)

        lonely = await run("open", str(path), "--data", "{}")
        assert_one_line_user_error(lonely, "--data needs --act")
        opened = await run("open", str(path), "--act", "acknowledge", "--data", '{"actor": "agent-8"}')
        assert opened.returncode == 0, opened.stderr
        body = json.loads(opened.stdout)
        assert body["case_id"] == case.case_id and body["status"] == "acknowledged"
