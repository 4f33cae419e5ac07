"""Helpers for the outbox tests: a database of their own, notifications to queue, rows to read.

Each outbox test gets a fresh database in the suite's embedded PostgreSQL, because a dispatcher
delivers every pending row it can see, and the other tests leave theirs pending.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from activities.db import create_pool
from activities.outbox_rows import OUTBOX_CHANNEL, outbox_rows
from activities.schema import migrate
from cases.core.effects import Audience, Notification, NotificationChannel

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


_INSERT = (
    "INSERT INTO notifications (key, channel, case_id, kind, audience, recipient,"
    " subject, body, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
    " ON CONFLICT (key, channel) DO NOTHING"
)


async def queue(pool: asyncpg.Pool, *notifications: Notification) -> None:
    """Queue the rows `record_case` would write for these (`outbox_rows`), in one transaction, and
    wake the dispatcher on commit as it does."""
    rows = [
        (r["key"], r["channel"], r["case_id"], r["kind"], r["audience"], r["recipient"], r["subject"],
         r["body"], json.dumps(r["data"], default=str))
        for r in outbox_rows(list(notifications))
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(_INSERT, rows)
        await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)


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
