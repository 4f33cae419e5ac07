"""Dispatcher: delivers pending outbox rows through a `NotificationProvider`, from one replica.

It leads as every `LeaderLoop` does (outbox/leader.py): one replica at a time, on the session
that holds the lock, woken by `LISTEN aftersales_outbox` (every outbox write NOTIFYs on commit)
and by a poll, for backoffs that have run out. It delivers up to `concurrency` cases at once;
within a case, one notification at a time in `id` order, and a head that fails or is backing off
holds back the rest of its case. Each notification is marked right after its provider call, so a
kill re-sends at most what was in flight, under the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from activities.notifications import NotificationProvider
from activities.outbox_rows import OUTBOX_CHANNEL
from outbox.leader import Connect, LeaderLoop, connector, in_background
from outbox.retry import Backoff
from outbox.rows import OutboxRows
from outbox.work import deliver_case
from runtime.log import get_logger

__all__ = ["LOCK_ID", "Connect", "Dispatcher", "connector", "dispatching"]

# Any constant works, as long as every dispatcher of one database uses the same one.
LOCK_ID = 0x0AF7_0B0C

log = get_logger("aftersales.outbox")


class Dispatcher(LeaderLoop):
    role = "outbox dispatcher"

    def __init__(
        self,
        connect: Connect,
        provider: NotificationProvider,
        *,
        concurrency: int = 8,
        poll_interval: float = 1.0,
        backoff: Backoff | None = None,
        delivery_timeout: float = 60.0,
        stop_grace: float = 15.0,
        lock_id: int = LOCK_ID,
    ) -> None:
        super().__init__(connect, lock_id=lock_id, channel=OUTBOX_CHANNEL, poll_interval=poll_interval, log=log)
        self._provider = provider
        self._concurrency = concurrency
        self._backoff = backoff or Backoff()
        self._delivery_timeout = delivery_timeout
        self._stop_grace = stop_grace

    def stop(self) -> None:
        """Ask `run` to return: in-flight deliveries finish (within the grace), then it leaves."""
        super().stop()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        rows = OutboxRows(conn)
        in_flight: dict[str, asyncio.Task[None]] = {}
        async with self._listening(conn, concurrency=self._concurrency):
            try:
                while not self._stopping.is_set():
                    self._check_session(conn)
                    for case_id in [c for c, t in in_flight.items() if t.done()]:
                        in_flight.pop(case_id).result()  # a session error ends the lead here
                    free = self._concurrency - len(in_flight)
                    if free > 0:
                        for case_id in await rows.due_cases(list(in_flight), free):
                            task = asyncio.create_task(self._deliver(rows, case_id))
                            task.add_done_callback(self._woken)
                            in_flight[case_id] = task
                    await self._until_woken()
                await self._finish(in_flight)
            finally:
                for task in in_flight.values():
                    task.cancel()
                await asyncio.gather(*in_flight.values(), return_exceptions=True)

    async def _deliver(self, rows: OutboxRows, case_id: str) -> None:
        await deliver_case(
            rows, case_id, self._provider,
            backoff=self._backoff, timeout=self._delivery_timeout, stopping=self._stopping,
        )

    async def _finish(self, in_flight: dict[str, asyncio.Task[None]]) -> None:
        # A stop lets the calls already made come back and be marked, rather than re-sent by
        # the next leader; each case's loop sees `stopping` and takes no further notification.
        if in_flight:
            await asyncio.wait(in_flight.values(), timeout=self._stop_grace)


@contextlib.asynccontextmanager
async def dispatching(dispatcher: Dispatcher | None) -> AsyncIterator[None]:
    """Run `dispatcher` in the background for the block (nothing, for None); stop it after."""
    async with in_background(dispatcher, "outbox-dispatcher"):
        yield
