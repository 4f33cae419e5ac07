"""The notification provider for a machine without a messaging provider: a line in the log.

`aftersales up` and a worker with no `AFTERSALES_PROVIDER_URL` deliver through it, so the outbox
drains and every row ends `delivered` as it would with a real provider. It logs what is safe to
log (key, kind, channels) and answers one delivery per channel, naming the key, not the recipient.
"""

from __future__ import annotations

from cases.core.effects import Notification
from runtime.log import get_logger

log = get_logger("aftersales.outbox.sink")


class LogSink:
    async def deliver(self, notification: Notification) -> list[str]:
        channels = [c.value for c in notification.channels]
        log.info(
            "notification accepted by the log sink",
            case_id=notification.case_id,
            key=notification.key,
            kind=notification.kind,
            channels=channels,
        )
        return [f"log:{channel}:{notification.key}" for channel in channels]
