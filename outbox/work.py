"""One case's turn at the dispatcher: its due notifications, one provider call each, in order.

The loop takes the case's head, calls the provider once for it (every channel of the key in one
call, under the key as idempotency key) and marks the outcome at once: delivered, declined for
good (the provider answered with no deliveries), or failed and backing off. It stops at the first
head that is not delivered or not due, so a later notification of the case never overtakes an
earlier one. Any exception from the provider, a timeout included, counts as an outage; a failure
to mark is the session's and ends the whole lead, which the dispatcher handles.

Logs carry the key, kind, channels and attempt count, never the recipient, subject or body.
"""

from __future__ import annotations

import asyncio

from activities.notifications import NotificationProvider
from outbox.retry import Backoff, describe_error
from outbox.rows import OutboxRows
from runtime.log import get_logger

log = get_logger("aftersales.outbox")


async def deliver_case(
    rows: OutboxRows,
    case_id: str,
    provider: NotificationProvider,
    *,
    backoff: Backoff,
    timeout: float,
    stopping: asyncio.Event,
) -> None:
    while not stopping.is_set():
        head = await rows.head(case_id)
        if head is None or not head.due:
            return
        notification = head.notification
        attempt = head.attempts + 1
        fields = {
            "case_id": notification.case_id,
            "key": notification.key,
            "kind": notification.kind,
            "channels": [c.value for c in notification.channels],
            "attempt": attempt,
        }
        try:
            async with asyncio.timeout(timeout):
                deliveries = await provider.deliver(notification)
        except Exception as err:
            delay = backoff.delay(attempt)
            error = describe_error(err, notification)
            await rows.retry_later(notification, delay, error)
            log.warning("notification delivery failed", **fields, error=error,
                        retry_in_s=round(delay, 2))
            return
        if deliveries:
            await rows.delivered(notification, deliveries)
            log.info("notification dispatched", **fields)
        else:
            await rows.declined(notification)
            log.warning("notification declined", **fields)
