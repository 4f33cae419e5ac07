"""`aftersales worker` delivers notifications with no other process: two real worker processes on
one task queue and one database, a case opened through the dev server, and its notifications
leaving the outbox through the log sink, with one worker leading the dispatch and one standing by.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.outbox_helpers import fresh_database, rows

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]


async def spawn_worker(log: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter.cli", "worker",
            env={**os.environ, "PYTHONPATH": str(ROOT), "TEMPORAL_CONFIG_FILE": os.devnull,
                 "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS, "AFTERSALES_PROVIDER_URL": "", **env},
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )


@asynccontextmanager
async def worker_processes(logs: list[Path], env: dict[str, str]) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """One `aftersales worker` process per log; any still running after the block is killed."""
    procs: list[asyncio.subprocess.Process] = []
    try:
        procs = list(await asyncio.gather(*(spawn_worker(log, env) for log in logs)))
        yield procs
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def stop_gracefully(procs: list[asyncio.subprocess.Process]) -> list[int]:
    """SIGTERM each and their exit codes."""
    for proc in procs:
        proc.terminate()
    return list(await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 60))


async def test_workers_deliver_notifications_with_one_leading(dev_server, dev_client, postgres_dsn, tmp_path):
    task_queue = f"dispatch-{uuid.uuid4()}"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    async with fresh_database(postgres_dsn) as (dsn, pool):
        env = {"TEMPORAL_ADDRESS": dev_server.address, "DATABASE_URL": dsn, "AFTERSALES_TASK_QUEUE": task_queue}
        async with worker_processes(logs, env) as procs:
            async def roles() -> list[str]:
                for proc, log in zip(procs, logs, strict=True):
                    assert proc.returncode is None, log.read_text(errors="replace")[-3000:]
                texts = [log.read_text(errors="replace") if log.exists() else "" for log in logs]
                return sorted("leading" if "outbox dispatcher leading" in t
                              else "standing by" if "outbox dispatcher standing by" in t else "" for t in texts)

            await eventually(roles, lambda r: r == ["leading", "standing by"],
                             "one worker leading the dispatch, the other standing by", timeout=120)
            client = CaseClient(dev_client, task_queue)
            case = intake()
            await client.open(case)
            await client.act(case.case_id, "acknowledge", {"actor": "agent-7"})
            found = await eventually(
                lambda: rows(pool, [case.case_id]),
                lambda rs: bool(rs) and all(r["status"] == "delivered" for r in rs),
                "the case's notifications delivered by a worker", timeout=120,
            )
            codes = await stop_gracefully(procs)
    assert codes == [0, 0]
    assert all(r["deliveries"].startswith('["log:') for r in found)
    text = "".join(log.read_text(errors="replace") for log in logs)
    assert text.count("notification accepted by the log sink") == len({r["key"] for r in found})
