"""The dispatcher's reads and marks of the `notifications` table, on the lead connection.

Every statement runs on the one connection that holds the dispatcher's advisory lock, one at a
time. A replica whose session has ended can therefore mark nothing more: a deposed leader cannot
write over the work of the standby that took its place.

A case's head is its pending row with the lowest `id`; the head notification is every pending
row of the case with the head's key (one row per channel). Only a case whose head is due counts
as due, so a head that is backing off holds back the rest of its case and nothing else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from cases.core.effects import Audience, Notification, NotificationChannel

_DUE_CASES = """
SELECT case_id FROM (
    SELECT DISTINCT ON (case_id) case_id, id, next_attempt_at
    FROM notifications WHERE status = 'pending'
    ORDER BY case_id, id
) AS heads
WHERE next_attempt_at <= now() AND NOT (case_id = ANY($1::text[]))
ORDER BY id
LIMIT $2
"""

_HEAD = """
SELECT key, channel, case_id, kind, audience, recipient, subject, body, data, attempts,
       next_attempt_at <= now() AS due
FROM notifications
WHERE case_id = $1 AND status = 'pending' AND key = (
    SELECT key FROM notifications WHERE case_id = $1 AND status = 'pending' ORDER BY id LIMIT 1
)
ORDER BY id
"""

_DELIVERED = """
UPDATE notifications
SET status = 'delivered', delivered_at = now(), deliveries = $3::jsonb,
    attempts = attempts + 1, last_error = NULL
WHERE case_id = $1 AND key = $2 AND status = 'pending'
"""

_DECLINED = """
UPDATE notifications
SET status = 'declined', deliveries = '[]'::jsonb, attempts = attempts + 1,
    last_error = 'declined by the provider'
WHERE case_id = $1 AND key = $2 AND status = 'pending'
"""

_RETRY_LATER = """
UPDATE notifications
SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $3),
    last_error = $4
WHERE case_id = $1 AND key = $2 AND status = 'pending'
"""


@dataclass(frozen=True)
class Head:
    """A case's earliest pending notification, with its channels gathered from its rows."""

    notification: Notification
    attempts: int
    due: bool


class OutboxRows:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._turn = asyncio.Lock()

    async def due_cases(self, busy: Sequence[str], limit: int) -> list[str]:
        """Up to `limit` cases whose head is due, earliest first, leaving out `busy` ones."""
        async with self._turn:
            rows = await self._conn.fetch(_DUE_CASES, list(busy), limit)
        return [r["case_id"] for r in rows]

    async def head(self, case_id: str) -> Head | None:
        async with self._turn:
            rows = await self._conn.fetch(_HEAD, case_id)
        if not rows:
            return None
        first = rows[0]
        notification = Notification(
            key=first["key"],
            case_id=first["case_id"],
            kind=first["kind"],
            audience=Audience(first["audience"]),
            recipient=first["recipient"],
            channels=[NotificationChannel(r["channel"]) for r in rows],
            subject=first["subject"],
            body=first["body"],
            data=json.loads(first["data"]),
        )
        return Head(notification, attempts=first["attempts"], due=first["due"])

    async def delivered(self, notification: Notification, deliveries: Sequence[str]) -> None:
        async with self._turn:
            await self._conn.execute(
                _DELIVERED, notification.case_id, notification.key, json.dumps(list(deliveries))
            )

    async def declined(self, notification: Notification) -> None:
        async with self._turn:
            await self._conn.execute(_DECLINED, notification.case_id, notification.key)

    async def retry_later(self, notification: Notification, delay_s: float, error: str) -> None:
        async with self._turn:
            await self._conn.execute(
                _RETRY_LATER, notification.case_id, notification.key, delay_s, error
            )
