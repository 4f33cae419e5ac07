"""The case's loop is written once (`cases/core/loop.py`): the workflow and what-if both follow it.

Changing its order in the machine alone, so that an ended case is done before it gives its seat
back, changes what the workflow does (the case keeps its agent's seat: no `load_released`) and
what what-if reproduces (a case recorded under the shipped order no longer replays exactly). A
copy of the order anywhere else would leave one of the two unmoved.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.db import create_pool
from activities.roster.postgres import PostgresRoster
from activities.schema import migrate
from cases.core import loop
from cases.policy.snapshot import load_policy
from cases.routing.models import Presence
from devstack.postgres import EmbeddedPostgres
from reports.whatif.query import recorded_cases
from reports.whatif.run import Snapshots, replay_case
from reports.whatif.timeline import Timeline
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.clock import skip
from tests.support.factories import intake
from tests.support.golden import TEAM

AGENT = "agent-loop"


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = server.start()
        try:
            await migrate(dsn)
            pool = await create_pool(dsn)
            try:
                roster = PostgresRoster(pool, load_policy(None).calendar)
                await roster.add_team(TEAM, [], None, "lead-cs")
                await roster.add_agent(AGENT, TEAM, [], 2, Presence.AVAILABLE, datetime.now(UTC))
            finally:
                await pool.close()
            yield dsn
        finally:
            server.stop()


async def _run_case(env: WorkflowEnvironment, dsn: str, case_id: str) -> Timeline:
    """One case taken by an agent of the roster, resolved with an explanation, to its end."""
    pool = await create_pool(dsn)
    try:
        policy = load_policy(None)
        since = await env.get_current_time() - timedelta(minutes=1)
        async with case_worker(env.client, pool, policy) as task_queue:
            client = CaseClient(env.client, task_queue)
            await client.open(intake(case_id=case_id, category="logistics"))
            await client.act(case_id, "acknowledge", {"actor": AGENT})
            await client.act(case_id, "propose_resolution", {"actor": AGENT, "type": "explanation"})
            await skip(env, timedelta(seconds=1))
            await client.act(case_id, "confirm", {})
            state = await client.act(case_id, "rate", {"score": 5})
            if state.status.value == "follow_up":
                await skip(env, timedelta(seconds=1))
                await client.act(case_id, "follow_up_result", {"actor": "agent-9", "outcome": "satisfied"})
            await client.handle(case_id).result()
        until = await env.get_current_time() + timedelta(days=1)
    finally:
        await pool.close()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(readonly=True):
            async for batch in recorded_cases(conn, since, until, datetime.now(UTC), case_ids=[case_id]):
                return next(t for t in batch if isinstance(t, Timeline))
    finally:
        await conn.close()
    raise AssertionError(f"case {case_id} is not in the record")


def _replays_exactly(timeline: Timeline) -> list[str]:
    replayed, differences = replay_case(timeline, Snapshots(load_policy(None)))
    assert replayed.error is None, replayed.error
    return differences


async def test_the_workflow_and_what_if_both_follow_the_loop_in_the_machine(
    env: WorkflowEnvironment, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = await _run_case(env, database, "loop-shipped")
    assert "load_released" in [e.type for e in shipped.recorded]
    assert _replays_exactly(shipped) == []

    done_first = [step for step in loop.ORDER if step[0] == loop.Step.DONE]
    monkeypatch.setattr(loop, "ORDER", done_first + [s for s in loop.ORDER if s[0] != loop.Step.DONE])

    # The workflow reacts: the ended case no longer gives its seat back.
    reordered = await _run_case(env, database, "loop-reordered")
    assert reordered.final.status.value == "closed"
    assert "load_released" not in [e.type for e in reordered.recorded]
    # What-if reacts: the case recorded under the shipped order no longer replays exactly.
    assert _replays_exactly(shipped) != []
