"""A real worker process whose refund provider dies by SIGKILL right after the money moved.

It stands in for the worst moment for exactly-once: the payment is made, but the activity never
reports back. A marker file makes only the first process crash; the replacement process runs
normally and must find the earlier refund instead of paying again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from activities.contracts import MoneyMovement, MoneyMovementResult, Reversal, ReversalResult
from activities.db import create_pool
from activities.refunds import LedgerRefunds
from cases.policy import load_policy
from runtime.connect import connect
from runtime.settings import Settings
from worker import activities_for, build_worker


class CrashAfterRefund:
    def __init__(self, inner: LedgerRefunds, marker: Path) -> None:
        self._inner = inner
        self._marker = marker

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        result = await self._inner.execute(movement)
        if not self._marker.exists():
            self._marker.write_text(result.reference)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        return await self._inner.reverse(reversal)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--marker", required=True, type=Path)
    args = parser.parse_args()
    settings = Settings.from_env().model_copy(
        update={"temporal_address": args.address, "task_queue": args.task_queue, "database_url": args.dsn}
    )
    pool = await create_pool(args.dsn)
    policy = load_policy(None)
    refunds = CrashAfterRefund(LedgerRefunds(pool), args.marker)
    client = await connect(settings)
    worker = build_worker(client, args.task_queue, activities_for(pool, policy, refunds=refunds))
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
