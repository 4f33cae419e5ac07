"""Race-free assignment (STANDARDS S12.3): 200 cases opened at once, served by 4 worker
processes against 10 agents of 5 seats each, on the dev server and PostgreSQL.

Every assignment is logged with the agent's load in the same transaction, so the log proves that
nobody was ever given more than their capacity, and that no case was assigned twice. Raising the
capacity with `aftersales roster import` then drains the queue through the cases' own signals.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cases.policy.snapshot import load_policy
from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS
from tests.support.factories import intake
from tests.support.reliability_helpers import gather_limited, spawn_worker
from tests.support.routing_helpers import team_roster

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]
CASES, WORKERS, AGENTS, SEATS = 200, 4, 10, 5


def _policy_file(folder: Path, team: str) -> Path:
    text = (ROOT / "cases" / "default_policy.toml").read_text(encoding="utf-8")
    assert 'default_team = "customer_service"' in text
    path = folder / "policy.toml"
    path.write_text(text.replace('default_team = "customer_service"', f'default_team = "{team}"'))
    return path


async def _routing_counts(pool, team: str) -> dict[str, int]:
    rows = await pool.fetch("SELECT status, count(*) AS n FROM case_routing WHERE team = $1 GROUP BY status", team)
    return {r["status"]: r["n"] for r in rows}


async def _until(check, what: str, timeout: float = 180.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def test_two_hundred_cases_four_workers_ten_agents_never_over_capacity(
    dev_server, dev_client, pool, postgres_dsn, tmp_path, monkeypatch
) -> None:
    roster = await team_roster(pool, load_policy(None))
    policy_path = _policy_file(tmp_path, roster.team)
    monkeypatch.setenv("AFTERSALES_POLICY", str(policy_path))
    task_queue = f"route-{uuid.uuid4()}"
    agents = [await roster.agent(f"a{n}", datetime.now(UTC), capacity=SEATS) for n in range(AGENTS)]
    workers = [
        await spawn_worker(dev_server.address, postgres_dsn, task_queue, tmp_path, f"route-worker-{n}")
        for n in range(WORKERS)
    ]
    client = CaseClient(dev_client, task_queue, load_policy(policy_path))
    cases = [intake(description="The parcel arrived damaged.") for _ in range(CASES)]
    ids = [str(c.case_id) for c in cases]
    try:
        await asyncio.gather(*(w.wait_ready() for w in workers))
        # Started without waiting for each case's first task: they all arrive at once.
        await gather_limited(50, [lambda c=c: client.start(c) for c in cases])

        async def all_placed() -> bool:
            return sum((await _routing_counts(pool, roster.team)).values()) == CASES

        await _until(all_placed, "every case placed")
        counts = await _routing_counts(pool, roster.team)
        assert counts == {"assigned": AGENTS * SEATS, "queued": CASES - AGENTS * SEATS}, counts
        assert [await roster.load(a) for a in agents] == [SEATS] * AGENTS
        assert await roster.over_capacity() == []

        csv = "kind,name,team,skills,capacity,presence,hours,lead\n" + "".join(
            f"agent,{a},{roster.team},,{CASES // AGENTS},available,,\n" for a in agents
        )
        done = subprocess.run(
            [sys.executable, "-m", "starter.cli", "roster", "import", "-"],
            input=csv, capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, "TEMPORAL_ADDRESS": dev_server.address, "DATABASE_URL": postgres_dsn,
                 "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr

        async def all_heard() -> bool:
            handled = await pool.fetchval(
                "SELECT count(*) FROM cases WHERE case_id = ANY($1::text[]) AND handler IS NOT NULL", ids
            )
            return bool(handled == CASES)

        try:
            await _until(all_heard, "every case to record its handler")
        except AssertionError:
            rows = await pool.fetch(
                """SELECT r.status, r.seq, c.handler, c.state->'routing'->>'seq' AS heard,
                          c.state->'routing'->>'status' AS mirror
                   FROM case_routing r LEFT JOIN cases c USING (case_id) WHERE r.team = $1
                   AND c.handler IS NULL LIMIT 5""", roster.team)
            unheard = await pool.fetchval(
                """SELECT r.workflow_id FROM case_routing r JOIN cases c USING (case_id)
                   WHERE r.team = $1 AND c.handler IS NULL LIMIT 1""", roster.team)
            history = await dev_client.get_workflow_handle(unheard).fetch_history()
            tail = [e.WhichOneof("attributes") for e in history.events][-12:]
            Path("/tmp/unheard.json").write_text(history.to_json())
            described = await dev_client.get_workflow_handle(unheard).describe()
            pending = described.raw_description.pending_workflow_task
            raise AssertionError(f"{done.stdout} {[dict(r) for r in rows]} {tail} {pending}") from None
        assert await _routing_counts(pool, roster.team) == {"assigned": CASES}
        assert [await roster.load(a) for a in agents] == [CASES // AGENTS] * AGENTS
        assert await roster.over_capacity() == []
        once = await pool.fetch(
            "SELECT case_id, count(*) AS n FROM routing_log WHERE team = $1 GROUP BY case_id", roster.team
        )
        assert sorted((r["case_id"], r["n"]) for r in once) == sorted((i, 1) for i in ids)
        mismatched = await pool.fetchval(
            """SELECT count(*) FROM cases c JOIN case_routing r USING (case_id)
               WHERE r.team = $1 AND c.handler IS DISTINCT FROM r.agent_id""",
            roster.team,
        )
        assert mismatched == 0
    finally:
        # The cases stay open on a task queue nobody serves once the workers stop; their first
        # timers are hours away, so they never wake during the session.
        for w in workers:
            await w.stop()
