"""Dispatcher: delivers pending outbox rows through a `NotificationProvider`, from one replica.

Any number of dispatchers may run (one in each worker, or `aftersales dispatch` processes); the
one whose connection holds a session-level advisory lock leads, and only the leader delivers.
The others retry the lock every poll interval, so when the leader's session ends (its process
killed, its connection cut) PostgreSQL releases the lock and a standby takes over within about
one interval. The leader does all its reads and marks on that same session, so once its session
is gone it can mark nothing more.

The leader wakes on `LISTEN aftersales_outbox` (every outbox write NOTIFYs on commit) and polls
once per interval besides, for backoffs that have run out and a NOTIFY missed while it was not
listening. It delivers up to `concurrency` cases at once; within a case, one notification at a
time in `id` order, and a head that fails or is backing off holds back the rest of its case.
Each notification is marked right after its provider call, so a kill re-sends at most what was
in flight, under the same idempotency key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg

from activities.notifier import NotificationProvider
from activities.outbox_rows import OUTBOX_CHANNEL
from outbox.retry import Backoff
from outbox.rows import OutboxRows
from outbox.work import deliver_case
from runtime.log import get_logger

Connect = Callable[[], Awaitable[asyncpg.Connection]]

# Any constant works, as long as every dispatcher of one database uses the same one.
LOCK_ID = 0x0AF7_0B0C

log = get_logger("aftersales.outbox")


class Dispatcher:
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
        self._connect = connect
        self._provider = provider
        self._concurrency = concurrency
        self._poll = poll_interval
        self._backoff = backoff or Backoff()
        self._delivery_timeout = delivery_timeout
        self._stop_grace = stop_grace
        self._lock_id = lock_id
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._leading = False
        self._standing_by = False

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def standing_by(self) -> bool:
        """True once this dispatcher has found the lock held by another, until it leads."""
        return self._standing_by

    def stop(self) -> None:
        """Ask `run` to return: in-flight deliveries finish (within the grace), then it leaves."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Lead or stand by until `stop`; a lost session or database only means trying again."""
        conn: asyncpg.Connection | None = None
        try:
            while not self._stopping.is_set():
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect()
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_id):
                        await self._lead(conn)
                    else:
                        if not self._standing_by:
                            log.info("outbox dispatcher standing by")
                            self._standing_by = True
                        await self._pause(self._poll)
                except Exception as err:
                    # The database or this session went away (or a fault of ours): the rows
                    # wait where they are, and the lock goes with the session, so another
                    # replica may lead meanwhile.
                    log.warning("outbox session lost", **_error_fields(err))
                    _drop(conn)
                    conn = None
                    await self._pause(self._poll)
        finally:
            await _release(conn, self._lock_id)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        rows = OutboxRows(conn)
        in_flight: dict[str, asyncio.Task[None]] = {}

        def wake(*_: object) -> None:
            self._wake.set()

        await conn.add_listener(OUTBOX_CHANNEL, wake)
        conn.add_termination_listener(wake)
        self._leading = True
        self._standing_by = False
        log.info("outbox dispatcher leading", concurrency=self._concurrency)
        try:
            while not self._stopping.is_set():
                if conn.is_closed():
                    raise asyncpg.InterfaceError("the lead connection is closed")
                # Cleared before reading, so a NOTIFY that lands during the read is not lost.
                self._wake.clear()
                for case_id in [c for c, t in in_flight.items() if t.done()]:
                    in_flight.pop(case_id).result()  # a session error ends the lead here
                free = self._concurrency - len(in_flight)
                if free > 0:
                    for case_id in await rows.due_cases(list(in_flight), free):
                        task = asyncio.create_task(self._deliver(rows, case_id))
                        task.add_done_callback(wake)
                        in_flight[case_id] = task
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
            await self._finish(in_flight)
        finally:
            self._leading = False
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)
            conn.remove_termination_listener(wake)
            if not conn.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.remove_listener(OUTBOX_CHANNEL, wake)
            log.info("outbox dispatcher stood down")

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


def _drop(conn: asyncpg.Connection | None) -> None:
    if conn is not None and not conn.is_closed():
        conn.terminate()


def _error_fields(err: BaseException) -> dict[str, str]:
    # Database errors name the server or the statement; any other error's text could quote a
    # row, so only its class is logged.
    if isinstance(err, asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError):
        text = str(err).splitlines()[0] if str(err) else ""
        return {"error": type(err).__name__, "message": text[:160]}
    return {"error": type(err).__name__}


async def _release(conn: asyncpg.Connection | None, lock_id: int) -> None:
    if conn is None or conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.execute("SELECT pg_advisory_unlock_all()"), 5)
        await asyncio.wait_for(conn.close(), 5)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        conn.terminate()


@contextlib.asynccontextmanager
async def dispatching(dispatcher: Dispatcher | None) -> AsyncIterator[None]:
    """Run `dispatcher` in the background for the block (nothing, for None); stop it after."""
    if dispatcher is None:
        yield
        return
    task = asyncio.create_task(dispatcher.run(), name="outbox-dispatcher")
    try:
        yield
    finally:
        dispatcher.stop()
        await task


def connector(dsn: str) -> Connect:
    """A `Connect` for `dsn`; statements on the lead session are short, so they time out soon."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, command_timeout=15, timeout=10)

    return connect
