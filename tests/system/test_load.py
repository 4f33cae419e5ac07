"""Load: 1,000 cases open at once, each hit by a burst of actions (acknowledge, then a note and a
refund proposal together), on a real Temporal dev server with a worker process. At the end every
audit event that should exist exists exactly once, every trail is seq 1..last_seq, every queued
notification was delivered, and every case was refunded exactly once.

`AFTERSALES_LOAD_CASES` changes the number of cases (default 1000) for a quicker local run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client

from cases.models import CaseState, Status
from cases.policy.snapshot import load_policy
from devstack.processes import free_port
from devstack.temporal_server import DevServer
from reports.whatif.run import build_whatif
from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS
from tests.support.factories import intake
from tests.support.reliability_helpers import assert_nothing_lost, gather_limited, spawn_worker
from workflows.codec import parse_keys
from workflows.converter import data_converter

pytestmark = [pytest.mark.devserver, pytest.mark.load]

CASES = int(os.environ.get("AFTERSALES_LOAD_CASES") or 1000)
IN_FLIGHT = 100  # client calls in flight at once

# Each action of the burst leaves exactly one event of its type.
ONE_EACH = ("opened", "acknowledged", "note", "resolution_proposed", "resolution_executed")


async def test_thousand_open_cases_with_bursts_lose_nothing(postgres_dsn, pool, tmp_path):
    server = DevServer(db_file=None, port=free_port(), ui_port=None)
    server.start()
    worker = None
    timings: dict[str, float] = {}
    try:
        task_queue = f"load-{uuid.uuid4()}"
        worker = await spawn_worker(
            server.address, postgres_dsn, task_queue, tmp_path, "load-worker",
            "--pool-size", "20", "--max-cached", str(CASES + 100),
        )
        client = CaseClient(
            await Client.connect(server.address, data_converter=data_converter(parse_keys(TEST_CODEC_KEYS))),
            task_queue,
        )
        await worker.wait_ready()
        cases = [intake(order_amount="300.00") for _ in range(CASES)]
        ids = [c.case_id for c in cases]
        assert all(ids)

        started = time.monotonic()
        opened_from = datetime.now(UTC)
        opened = await gather_limited(IN_FLIGHT, [lambda c=c: client.open(c) for c in cases])
        timings["open"] = time.monotonic() - started
        assert all(o.created and o.status == Status.REGISTERED for o in opened)

        async def burst(case_id: str) -> CaseState:
            await client.act(case_id, "acknowledge", {"actor": "agent-load"})
            _, proposed = await asyncio.gather(
                client.act(case_id, "note", {"actor": "agent-load", "text": "burst note"}),
                client.act(case_id, "propose_resolution",
                           {"actor": "agent-load", "type": "refund", "amount": "99.90"}),
            )
            return proposed

        mark = time.monotonic()
        await gather_limited(IN_FLIGHT, [lambda i=i: burst(i) for i in ids])
        timings["bursts"] = time.monotonic() - mark

        # The refunds run after the proposals return; wait for every case to be resolved.
        mark = time.monotonic()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 600
        pending = set(ids)
        finals: dict[str, CaseState] = {}
        while pending:
            states = await gather_limited(IN_FLIGHT, [lambda i=i: client.state(i) for i in sorted(pending)])
            for state in states:
                if state.status == Status.AWAITING_CONFIRMATION:
                    finals[state.case_id] = state
                    pending.discard(state.case_id)
            assert loop.time() < deadline, f"{len(pending)} case(s) never resolved"
            if pending:
                await asyncio.sleep(1)
        timings["settle"] = time.monotonic() - mark
        timings["total"] = time.monotonic() - started
        cpu = {"worker": _cpu_seconds(worker.pid), "server": _cpu_seconds(server.pid),
               "client": _cpu_seconds(os.getpid())}
    finally:
        if worker is not None:
            await worker.stop()
        server.stop()

    mark = time.monotonic()
    trails = await assert_nothing_lost(pool, finals)
    wrong = {
        case_id: {t: trail.types[t] for t in ONE_EACH if trail.types[t] != 1}
        for case_id, trail in trails.items()
        if any(trail.types[t] != 1 for t in ONE_EACH)
    }
    assert not wrong, list(wrong.items())[:10]
    refunds = await pool.fetch(
        "SELECT case_id, count(*) AS n FROM refunds WHERE case_id = ANY($1::text[]) GROUP BY case_id", ids)
    assert sorted((r["case_id"], r["n"]) for r in refunds) == sorted((i, 1) for i in ids)
    timings["verify"] = time.monotonic() - mark

    # Replayed under the policy they ran on, every case reproduces its audit trail exactly. The
    # database is shared by every test: only this test's cases are read, whatever else opened then.
    mark = time.monotonic()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        whatif = await build_whatif(conn, opened_from, datetime.now(UTC), load_policy(None), "default",
                                    case_ids=ids)
    finally:
        await conn.close()
    assert whatif.overall.actual.cases == CASES
    counts = whatif.counts
    assert (counts.changed_cases, counts.failed_cases, counts.refused) == (0, 0, 0), counts.examples
    assert whatif.overall.actual == whatif.overall.candidate
    timings["whatif"] = time.monotonic() - mark
    events = sum(len(t.seqs) for t in trails.values())
    print(f"\nload: {CASES} cases, {3 * CASES} actions, {events} audit events, "
          + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
          + "; cpu " + ", ".join(f"{k} {v:.0f} s" for k, v in cpu.items()))


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    if pid is None:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
