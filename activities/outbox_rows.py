"""The outbox's write side: one `notifications` row per channel, keyed by (key, channel).

The same rows come from the projection's `record_case` function and from the older path's
`send_notification` activity, so a retried write finds its rows already there. Committing wakes
the dispatcher through NOTIFY on `OUTBOX_CHANNEL` (the function notifies the same channel).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from cases.effects import Notification

OUTBOX_CHANNEL = "aftersales_outbox"

_INSERT = (
    "INSERT INTO notifications (key, channel, case_id, kind, audience, recipient,"
    " subject, body, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
    " ON CONFLICT (key, channel) DO NOTHING"
)


def outbox_rows(notifications: Sequence[Notification]) -> list[dict[str, Any]]:
    """One row per channel, by column name (the `record_case` function takes them as JSON)."""
    return [
        {"key": n.key, "channel": ch.value, "case_id": n.case_id, "kind": n.kind,
         "audience": n.audience.value, "recipient": n.recipient, "subject": n.subject,
         "body": n.body, "data": n.data}
        for n in notifications
        for ch in n.channels
    ]


async def insert_outbox(conn: asyncpg.Connection, notifications: Sequence[Notification]) -> None:
    """Queue `notifications` in the caller's transaction; NOTIFY reaches listeners on commit."""
    rows = [
        (r["key"], r["channel"], r["case_id"], r["kind"], r["audience"], r["recipient"], r["subject"],
         r["body"], json.dumps(r["data"], default=str))
        for r in outbox_rows(notifications)
    ]
    if not rows:
        return
    await conn.executemany(_INSERT, rows)
    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
