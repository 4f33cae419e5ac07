"""A real worker process that dies by SIGKILL at the worst moment for exactly-once.

`--crash-on refund`: right after the money moved, before the activity reports back.
`--crash-on record:<event type>`: right after the record holding that audit event committed,
before the workflow task that ran it (as a local activity) completes.
A marker file makes only the first process crash; the replacement process runs normally and must
find the earlier effect instead of repeating it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import Any

from activities.contracts import (
    MoneyMovement,
    MoneyMovementResult,
    RecordCase,
    RecordResult,
    Reversal,
    ReversalResult,
)
from activities.db import create_pool
from activities.refunds import LedgerRefunds
from activities.store import PostgresProjection
from cases.policy.snapshot import load_policy
from runtime.connect import connect
from runtime.settings import Settings
from worker import activities_for, build_worker


def _crash(marker: Path, note: str) -> None:
    if not marker.exists():
        marker.write_text(note)
        os.kill(os.getpid(), signal.SIGKILL)


class CrashAfterRecord:
    def __init__(self, inner: PostgresProjection, event_type: str, marker: Path) -> None:
        self._inner = inner
        self._event_type = event_type
        self._marker = marker

    async def write(self, request: RecordCase) -> RecordResult:
        result = await self._inner.write(request)
        if any(e.type == self._event_type for e in request.events):
            _crash(self._marker, str(result.events_written))
        return result


class CrashAfterRefund:
    def __init__(self, inner: LedgerRefunds, marker: Path) -> None:
        self._inner = inner
        self._marker = marker

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        result = await self._inner.execute(movement)
        _crash(self._marker, result.reference)
        return result

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        return await self._inner.reverse(reversal)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--marker", required=True, type=Path)
    parser.add_argument("--crash-on", default="refund", help="refund, or record:<event type>")
    args = parser.parse_args()
    settings = Settings.from_env().model_copy(
        update={"temporal_address": args.address, "task_queue": args.task_queue, "database_url": args.dsn}
    )
    pool = await create_pool(args.dsn)
    policy = load_policy(None)
    providers: dict[str, Any] = {}
    if args.crash_on == "refund":
        providers["refunds"] = CrashAfterRefund(LedgerRefunds(pool), args.marker)
    else:
        event_type = args.crash_on.removeprefix("record:")
        providers["projection"] = CrashAfterRecord(PostgresProjection(pool), event_type, args.marker)
    client = await connect(settings)
    worker = build_worker(client, args.task_queue, activities_for(pool, policy, **providers))
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
