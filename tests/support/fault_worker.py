"""A real worker process for the fault and load tests: what `aftersales worker` runs, plus a journal.

It builds the worker exactly as `worker.run_worker` does (same activities, sandbox, interceptors,
ledger providers, data converter from the environment's codec keys), with two additions a test
needs: refunds can be made slow, so a SIGKILL lands while money is moving, and every refund
writes `start`/`done` lines with this process's pid to a journal file, so the test can tell
which refunds a killed process left unfinished. It touches `--ready` once it polls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from activities.contracts import (
    MoneyMovement,
    MoneyMovementResult,
    Reversal,
    ReversalResult,
)
from activities.db import create_pool
from activities.refunds import LedgerRefunds
from cases.policy.snapshot import load_policy
from runtime.connect import connect
from runtime.settings import Settings
from worker import activities_for, build_worker


class JournaledRefunds:
    """The ledger provider, slowed down on both sides of the payment, with a journal."""

    def __init__(self, inner: LedgerRefunds, delay: float, journal: Path | None) -> None:
        self._inner = inner
        self._delay = delay
        self._journal = journal

    def _write(self, word: str, key: str) -> None:
        if self._journal is not None:
            with open(self._journal, "a") as fh:
                fh.write(f"{word} {key} {os.getpid()}\n")

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        self._write("start", movement.key)
        await asyncio.sleep(self._delay / 2)
        result = await self._inner.execute(movement)
        # The money has moved; a kill from here on is the worst case for exactly-once.
        await asyncio.sleep(self._delay / 2)
        self._write("done", movement.key)
        return result

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        return await self._inner.reverse(reversal)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--refund-delay", type=float, default=0.0)
    parser.add_argument("--journal", type=Path)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--max-cached", type=int, default=1000)
    args = parser.parse_args()
    settings = Settings.from_env().model_copy(
        update={"temporal_address": args.address, "task_queue": args.task_queue, "database_url": args.dsn}
    )
    pool = await create_pool(args.dsn, max_size=args.pool_size)
    policy = load_policy(settings.policy_path)
    refunds = JournaledRefunds(LedgerRefunds(pool), args.refund_delay, args.journal)
    client = await connect(settings)
    worker = build_worker(
        client,
        args.task_queue,
        activities_for(pool, policy, refunds=refunds),
        max_cached_workflows=args.max_cached,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with worker:
            args.ready.touch()
            await stop.wait()
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
