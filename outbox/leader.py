"""One leader among replicas, by a PostgreSQL session-level advisory lock.

Any number of loops of one kind may run (one in each worker, or standalone processes); the one
whose session holds the lock leads, the others retry the lock every poll interval. When the
leader's session ends (its process killed, its connection cut) PostgreSQL releases the lock and a
standby takes over within about one interval. The leader does its reads and marks on that same
session, so once its session is gone it can mark nothing more. A leader listens on a NOTIFY
channel and polls besides, for work whose wait ran out and a NOTIFY missed while nobody listened.

The outbox dispatcher and the webhook starter are both such loops; each says only what leading
means (`_lead`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import structlog

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class LeaderLoop:
    """Lead (`_lead`, on the lock's session) or stand by, until `stop`."""

    # Names the loop in its logs, e.g. "outbox dispatcher".
    role = "leader loop"

    def __init__(self, connect: Connect, *, lock_id: int, channel: str, poll_interval: float,
                 log: structlog.stdlib.BoundLogger) -> None:
        self._connect = connect
        self._lock_id = lock_id
        self._channel = channel
        self._poll = poll_interval
        self._log = log
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._leading = False
        self._standing_by = False

    @property
    def leading(self) -> bool:
        return self._leading

    @property
    def standing_by(self) -> bool:
        """True once this loop has found the lock held by another, until it leads."""
        return self._standing_by

    def stop(self) -> None:
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
                            self._log.info(f"{self.role} standing by")
                            self._standing_by = True
                        await self._pause(self._poll)
                except Exception as err:
                    # The database or this session went away (or a fault of ours): the rows wait
                    # where they are, and the lock goes with the session, so another replica may
                    # lead meanwhile.
                    self._log.warning(f"{self.role} session lost", **error_fields(err))
                    if conn is not None and not conn.is_closed():
                        conn.terminate()
                    conn = None
                    await self._pause(self._poll)
        finally:
            await _release(conn)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        raise NotImplementedError

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _woken(self, *_: object) -> None:
        self._wake.set()

    async def _until_woken(self) -> None:
        """A NOTIFY, a `stop`, a lost session or the poll interval, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll)

    @contextlib.asynccontextmanager
    async def _listening(self, conn: asyncpg.Connection, **fields: object) -> AsyncIterator[None]:
        """Mark this loop leading for the block, woken by the channel and by the session's end."""
        await conn.add_listener(self._channel, self._woken)
        conn.add_termination_listener(self._woken)
        self._leading = True
        self._standing_by = False
        self._log.info(f"{self.role} leading", **fields)
        try:
            yield
        finally:
            self._leading = False
            conn.remove_termination_listener(self._woken)
            if not conn.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.remove_listener(self._channel, self._woken)
            self._log.info(f"{self.role} stood down")

    def _check_session(self, conn: asyncpg.Connection) -> None:
        if conn.is_closed():
            raise asyncpg.InterfaceError("the lead connection is closed")
        # Cleared before the caller reads, so a NOTIFY that lands during the read is not lost.
        self._wake.clear()


def error_fields(err: BaseException) -> dict[str, str]:
    # Database errors name the server or the statement; any other error's text could quote a
    # row, so only its class is logged.
    if isinstance(err, asyncpg.PostgresError | asyncpg.InterfaceError | OSError | TimeoutError):
        text = str(err).splitlines()[0] if str(err) else ""
        return {"error": type(err).__name__, "message": text[:160]}
    return {"error": type(err).__name__}


async def _release(conn: asyncpg.Connection | None) -> None:
    if conn is None or conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.execute("SELECT pg_advisory_unlock_all()"), 5)
        await asyncio.wait_for(conn.close(), 5)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        conn.terminate()


@contextlib.asynccontextmanager
async def in_background(loop: LeaderLoop | None, name: str) -> AsyncIterator[None]:
    """Run `loop` in the background for the block (nothing, for None); stop it after."""
    if loop is None:
        yield
        return
    task = asyncio.create_task(loop.run(), name=name)
    try:
        yield
    finally:
        loop.stop()
        await task


def connector(dsn: str) -> Connect:
    """A `Connect` for `dsn`; statements on the lead session are short, so they time out soon."""

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, command_timeout=15, timeout=10)

    return connect
