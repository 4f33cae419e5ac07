"""Replay recorded case histories against the code in this checkout.

A change that would break running cases (a nondeterministic edit) shows up here as a replay
failure, before deployment: such a change ships as a new deployment version, and the cases of the
current build keep running on it (docs/DEPLOY.md). Histories come from files (as downloaded from the Web UI or written
by `temporal workflow show -o json`) or straight from a Temporal server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from cases.ids import cases_query
from workflows.case_workflow import AfterSalesCase
from workflows.sandbox import workflow_runner

# What a replay failure means for a deployment, said with each nondeterministic history.
NEW_VERSION_NEEDED = (
    "this code cannot run the history's case: ship it as a new deployment version, "
    "not onto the build the case is pinned to (docs/DEPLOY.md)"
)


class ReplayOutcome(BaseModel):
    workflow_id: str
    run_id: str | None = None
    ok: bool
    error: str | None = None


def replayer(converter: DataConverter) -> Replayer:
    return Replayer(
        workflows=[AfterSalesCase], data_converter=converter, workflow_runner=workflow_runner()
    )


async def replay_histories(
    histories: Iterable[WorkflowHistory], converter: DataConverter
) -> list[ReplayOutcome]:
    outcomes: list[ReplayOutcome] = []

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    async with replayer(converter).workflow_replay_iterator(each()) as results:
        async for result in results:
            error = result.replay_failure
            outcomes.append(
                ReplayOutcome(
                    workflow_id=result.history.workflow_id,
                    ok=error is None,
                    error=None if error is None else _explained(error),
                )
            )
    return outcomes


def load_history_file(path: Path) -> WorkflowHistory:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from err
    if isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise ValueError(f"{path}: not a workflow history (no 'events' list)")
    # The id is not part of the event list; golden files are named after their workflow.
    workflow_id = data.get("workflowId") or path.stem
    return WorkflowHistory.from_json(workflow_id, {"events": data["events"]})


async def replay_files(paths: list[Path], converter: DataConverter) -> list[ReplayOutcome]:
    histories = [load_history_file(p) for p in paths]
    return await replay_histories(histories, converter)


async def fetch_histories(
    client: Client, workflow_id: str | None = None, query: str | None = None
) -> list[WorkflowHistory]:
    if workflow_id:
        return [await client.get_workflow_handle(workflow_id).fetch_history()]
    return [h async for h in client.list_workflows(cases_query(query)).map_histories()]


async def replay_from_server(
    client: Client, workflow_id: str | None = None, query: str | None = None
) -> list[ReplayOutcome]:
    histories = await fetch_histories(client, workflow_id, query)
    return await replay_histories(histories, client.data_converter)


def _explained(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0][:500]
    if "nondetermin" in text.lower():
        text += f" - {NEW_VERSION_NEEDED}"
    return text
