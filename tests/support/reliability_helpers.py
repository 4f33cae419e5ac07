"""Helpers for the fault and load tests: worker processes, driving cases to their end, and the
audit-trail checks that say whether anything was lost or written twice."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from cases.models import CaseState, Status
from starter.client import CaseClient, CaseError
from tests.conftest import TEST_CODEC_KEYS

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class WorkerProcess:
    proc: asyncio.subprocess.Process
    ready: Path
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_ready(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.ready.exists():
            if self.proc.returncode is not None or loop.time() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
                raise AssertionError(f"worker {self.pid} did not start:\n{tail}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def spawn_worker(
    address: str,
    dsn: str,
    task_queue: str,
    folder: Path,
    name: str,
    *extra: str,
) -> WorkerProcess:
    """Start `tests.support.fault_worker` (what `aftersales worker` runs) as a separate process."""
    ready = folder / f"{name}.ready"
    log = folder / f"{name}.log"
    ready.unlink(missing_ok=True)
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.fault_worker",
            "--address", address, "--dsn", dsn, "--task-queue", task_queue,
            "--ready", str(ready), *extra,
            env={**os.environ, "PYTHONPATH": str(ROOT), "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS},
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )
    return WorkerProcess(proc, ready, log)


# What an agent or the customer does next, per status, to move a case towards its end.
NEXT_STEP: dict[Status, tuple[str, dict[str, Any]]] = {
    Status.REGISTERED: ("acknowledge", {"actor": "agent-f"}),
    Status.ACKNOWLEDGED: ("propose_resolution", {"actor": "agent-f", "type": "explanation"}),
    Status.AWAITING_CUSTOMER: ("customer_reply", {"text": "here you are"}),
    Status.AWAITING_APPROVAL: ("approve", {"actor": "supervisor-f", "role": "supervisor"}),
    Status.AWAITING_CONFIRMATION: ("confirm", {}),
    Status.AWAITING_RATING: ("rate", {"score": 5}),
    Status.FOLLOW_UP: ("follow_up_result", {"actor": "agent-f", "outcome": "satisfied"}),
}


async def drive_to_end(client: CaseClient, case_id: str, timeout: float = 90.0) -> CaseState:
    """Act on the case as its status asks until it is closed or withdrawn; return its final state."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await client.state(case_id)
        if state.status in (Status.CLOSED, Status.WITHDRAWN):
            await client.handle(case_id).result()
            return await client.state(case_id)
        if loop.time() > deadline:
            raise AssertionError(f"case {case_id} stuck in {state.status.value}")
        step = NEXT_STEP.get(state.status)
        if step is None:  # resolving: the workflow moves on by itself
            await asyncio.sleep(0.3)
            continue
        try:
            await client.act(case_id, step[0], step[1])
        except CaseError as err:
            # The workflow moved on between our read and the action (a timer, a resolution).
            if "not allowed while" not in str(err):
                raise


@dataclass
class Trail:
    seqs: list[int] = field(default_factory=list)
    types: Counter[str] = field(default_factory=Counter)
    queued: list[str] = field(default_factory=list)  # notification keys the trail announces


async def audit_trails(pool: asyncpg.Pool, case_ids: Iterable[str]) -> dict[str, Trail]:
    ids = list(case_ids)
    trails = {case_id: Trail() for case_id in ids}
    rows = await pool.fetch(
        "SELECT case_id, seq, type, data->>'kind' AS kind FROM case_events"
        " WHERE case_id = ANY($1::text[]) ORDER BY case_id, seq",
        ids,
    )
    for row in rows:
        trail = trails[row["case_id"]]
        trail.seqs.append(row["seq"])
        trail.types[row["type"]] += 1
        if row["type"] == "notification_queued":
            trail.queued.append(f"{row['case_id']}:{row['seq']}:{row['kind']}")
    return trails


async def assert_nothing_lost(
    pool: asyncpg.Pool, finals: dict[str, CaseState]
) -> dict[str, Trail]:
    """Every case's audit trail is seq 1..last_seq with no gap or duplicate, the projection is at
    the last event, and every notification the trail queued was delivered."""
    trails = await audit_trails(pool, finals)
    problems = []
    for case_id, state in finals.items():
        seqs = trails[case_id].seqs
        if seqs != list(range(1, state.last_seq + 1)):
            missing = sorted(set(range(1, state.last_seq + 1)) - set(seqs))
            dupes = sorted(s for s, n in Counter(seqs).items() if n > 1)
            problems.append(f"{case_id}: last_seq {state.last_seq}, missing {missing}, duplicated {dupes}")
    projected = {
        r["case_id"]: (r["last_seq"], r["status"])
        for r in await pool.fetch(
            "SELECT case_id, last_seq, status FROM cases WHERE case_id = ANY($1::text[])", list(finals)
        )
    }
    for case_id, state in finals.items():
        if projected.get(case_id) != (state.last_seq, state.status.value):
            problems.append(f"{case_id}: projection {projected.get(case_id)} != "
                            f"{(state.last_seq, state.status.value)}")
    delivered = {
        r["key"] for r in await pool.fetch(
            "SELECT DISTINCT key FROM notifications WHERE case_id = ANY($1::text[])", list(finals)
        )
    }
    for case_id, trail in trails.items():
        undelivered = [k for k in trail.queued if k not in delivered]
        if undelivered:
            problems.append(f"{case_id}: notifications never delivered {undelivered}")
    assert not problems, "\n".join(problems[:20])
    return trails


async def gather_limited(limit: int, jobs: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most `limit` in flight; results in job order."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))
