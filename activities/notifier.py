"""Notifier: the `send_notification` activity of cases started before the outbox path.

Newer cases queue their notifications in the projection's own transaction. This activity stays
for runs that began earlier: it writes the same outbox rows (one per channel, keyed by the
notification's idempotency key), so the dispatcher delivers both kinds once.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
import structlog
from temporalio import activity

from activities.contracts import NotificationResult
from activities.outbox_rows import insert_outbox
from cases.effects import Notification

log = structlog.get_logger("aftersales.notifier")


class NotificationProvider(Protocol):
    async def deliver(self, notification: Notification) -> list[str]: ...


class OutboxNotifications:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def deliver(self, notification: Notification) -> list[str]:
        async with self._pool.acquire() as conn, conn.transaction():
            await insert_outbox(conn, [notification])
        return [f"{ch.value}:{notification.recipient}" for ch in notification.channels]


class Notifier:
    def __init__(self, provider: NotificationProvider) -> None:
        self._provider = provider

    @activity.defn(name="send_notification")
    async def send(self, notification: Notification) -> NotificationResult:
        deliveries = await self._provider.deliver(notification)
        # Only ids and kinds: message bodies and contact details stay out of the logs.
        log.info(
            "notification delivered",
            key=notification.key,
            kind=notification.kind,
            audience=notification.audience.value,
            channels=[c.value for c in notification.channels],
        )
        return NotificationResult(key=notification.key, deliveries=deliveries)
