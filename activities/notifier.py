"""Notifier: delivers customer and supervisor notifications through a provider.

The default provider writes one outbox row per channel (SMS, e-mail, app push, internal) keyed
by the notification's idempotency key, for a relay to pick up; a retried activity finds the
rows already there and sends nothing twice.
"""

from __future__ import annotations

import json
from typing import Protocol

import asyncpg
import structlog
from temporalio import activity

from activities.contracts import NotificationResult
from cases.effects import Notification

log = structlog.get_logger("aftersales.notifier")


class NotificationProvider(Protocol):
    async def deliver(self, notification: Notification) -> list[str]: ...


class OutboxNotifications:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def deliver(self, notification: Notification) -> list[str]:
        n = notification
        async with self._pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO notifications (key, channel, case_id, kind, audience, recipient,"
                " subject, body, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)"
                " ON CONFLICT (key, channel) DO NOTHING",
                [
                    (n.key, ch.value, n.case_id, n.kind, n.audience.value, n.recipient,
                     n.subject, n.body, json.dumps(n.data, default=str))
                    for ch in n.channels
                ],
            )
        return [f"{ch.value}:{n.recipient}" for ch in n.channels]


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
