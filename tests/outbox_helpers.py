"""Helpers for the outbox tests: a database of their own, notifications to queue, rows to read.

Each outbox test gets a fresh database in the suite's embedded PostgreSQL, because a dispatcher
delivers every pending row it can see, and the other tests leave theirs pending.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from activities.db import create_pool
from activities.outbox_rows import insert_outbox
from activities.schema import migrate
from cases.effects import Audience, Notification, NotificationChannel

SECRET = b"outbox-test-secret-5d1c"


@asynccontextmanager
async def fresh_database(dsn: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A new, migrated database on the server of `dsn`: its DSN and a pool; dropped after."""
    name = f"outbox_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    own = urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
    await migrate(own)
    pool = await create_pool(own)
    try:
        yield own, pool
    finally:
        await pool.close()
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def notice(case_id: str, seq: int, *channels: str, kind: str = "update") -> Notification:
    """A customer notification with personal data worth keeping out of logs and errors."""
    return Notification(
        key=f"{case_id}:{seq}:{kind}",
        case_id=case_id,
        kind=kind,
        audience=Audience.CUSTOMER,
        recipient=f"+86 138 0000 {seq:04d} / buyer-{case_id}@example.com",
        channels=[NotificationChannel(c) for c in (channels or ("sms",))],
        subject=f"Your case {case_id}: step {seq}",
        body=f"Dear Ms Wang Fang, step {seq} of your case is done.",
        data={"seq": seq},
    )


async def queue(pool: asyncpg.Pool, *notifications: Notification) -> None:
    """Queue in one transaction, as the projection does."""
    async with pool.acquire() as conn, conn.transaction():
        await insert_outbox(conn, list(notifications))


async def rows(pool: asyncpg.Pool, case_ids: Sequence[str] | None = None) -> list[asyncpg.Record]:
    query = ("SELECT id, key, channel, case_id, status, attempts, last_error, delivered_at,"
             " deliveries, next_attempt_at FROM notifications")
    if case_ids is None:
        return await pool.fetch(query + " ORDER BY id")
    return await pool.fetch(query + " WHERE case_id = ANY($1::text[]) ORDER BY id", list(case_ids))


async def statuses(pool: asyncpg.Pool) -> dict[str, str]:
    """Each key's status (its rows move together)."""
    return {r["key"]: r["status"] for r in await rows(pool)}


def keys_in_id_order(records: Sequence[asyncpg.Record], case_id: str) -> list[str]:
    ordered: list[str] = []
    for r in records:
        if r["case_id"] == case_id and r["key"] not in ordered:
            ordered.append(r["key"])
    return ordered
