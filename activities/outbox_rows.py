"""The outbox's write side: one `notifications` row per channel, keyed by (key, channel).

Used inside the projection's transaction and by the `send_notification` activity alike, so a
retried write finds its rows already there. Committing wakes the dispatcher through NOTIFY.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from cases.effects import Notification

OUTBOX_CHANNEL = "aftersales_outbox"

_INSERT = (
    "INSERT INTO notifications (key, channel, case_id, kind, audience, recipient,"
    " subject, body, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
    " ON CONFLICT (key, channel) DO NOTHING"
)


async def insert_outbox(conn: asyncpg.Connection, notifications: Sequence[Notification]) -> None:
    """Queue `notifications` in the caller's transaction; NOTIFY reaches listeners on commit."""
    rows = [
        (n.key, ch.value, n.case_id, n.kind, n.audience.value, n.recipient, n.subject, n.body,
         json.dumps(n.data, default=str))
        for n in notifications
        for ch in n.channels
    ]
    if not rows:
        return
    await conn.executemany(_INSERT, rows)
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
