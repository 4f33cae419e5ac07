"""The what-if over a large period, one process per core: `whatif_from_database`.

Replaying is pure CPU, so one process per free core (up to `MAX_WORKERS`) each reads and replays its
own shard of the period (a hash of the case id) over its own connection, and the parent merges
their figures. A period with fewer than `PARALLEL_FROM` cases is replayed in the parent: starting
processes would cost more than it saves. The workers are forked: a spawned one would import the
entry point's main module again, and `python -m starter.cli` runs the command on import. A forked
worker starts an event loop and a connection of its own and never touches the parent's (the pool
ends its workers with `os._exit`). Each worker reports its progress on a queue, which the parent
reads while it waits. A worker's database failure comes back as the one line the command would
give in one process (reports/whatif/errors.py); a worker that dies is a `ServiceError`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import asyncpg

from cases.policy.snapshot import Policy
from reports.whatif.errors import database_failure
from reports.whatif.figures import WhatIf, merge
from reports.whatif.query import Shard, count_cases
from reports.whatif.run import Progress, build_whatif
from runtime.errors import ServiceError

PARALLEL_FROM = 2000
MAX_WORKERS = 4
_progress: Any = None  # the queue a worker reports on, set when the worker starts


def _start_worker(reports: Any) -> None:
    global _progress
    _progress = reports


def _shard(
    dsn: str, since: datetime, until: datetime, policy: Policy, name: str, as_of: datetime,
    shard: Shard, case_ids: list[str] | None,
) -> WhatIf:
    done = [0]

    def report(n: int, _total: int) -> None:
        if _progress is not None:
            _progress.put(n - done[0])
        done[0] = n

    async def run() -> WhatIf:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await build_whatif(conn, since, until, policy, name, report, shard, as_of,
                                      case_ids)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    except Exception as err:
        mapped = database_failure(err)
        if mapped is None or mapped is err:
            raise
        raise mapped from None  # the cause stays here: it need not pickle


def default_workers() -> int:
    """One process per core the machine has free now: on cores other work keeps busy, a second
    process only takes turns with the first (measured in BENCHMARKS.md)."""
    cores = os.cpu_count() or 1
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(MAX_WORKERS, cores - busy))


async def whatif_from_database(
    conn: asyncpg.Connection,
    dsn: str,
    since: datetime,
    until: datetime,
    policy: Policy,
    name: str,
    progress: Progress | None = None,
    workers: int | None = None,
    case_ids: Sequence[str] | None = None,
) -> WhatIf:
    """The what-if of [since, until) (among `case_ids` when given) under `policy`, in this
    process or spread over several."""
    workers = default_workers() if workers is None else workers
    ids = None if case_ids is None else list(case_ids)
    total = await count_cases(conn, since, until, case_ids=ids)
    if workers <= 1 or total < PARALLEL_FROM:
        return await build_whatif(conn, since, until, policy, name, progress, case_ids=ids)
    started = time.perf_counter()
    as_of = datetime.now(UTC)
    context = multiprocessing.get_context("fork")
    reports = context.Queue()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(reports,)) as pool:
        futures = [
            loop.run_in_executor(pool, _shard, dsn, since, until, policy, name, as_of,
                                 (k, workers), ids)
            for k in range(workers)
        ]
        done = 0
        pending: set[asyncio.Future[WhatIf]] = set(futures)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.2)
            while True:
                try:
                    done += reports.get_nowait()
                except queue.Empty:
                    break
            if progress is not None:
                progress(min(done, total), total)
        try:
            parts = [f.result() for f in futures]
        except BrokenProcessPool as err:
            raise ServiceError("a what-if worker process died; run it again") from err
    return merge(parts, time.perf_counter() - started)
