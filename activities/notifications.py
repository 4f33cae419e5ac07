"""The port that delivers a notification to the customer or to staff (SMS, e-mail, app push).

The workflow never calls it: notifications leave through the outbox written in the record's own
transaction, and the dispatcher (`outbox/`) hands each row to a provider of this shape, over HTTP
(`activities/http_providers.py`), to the log, or in memory for the workflow tests.
"""

from __future__ import annotations

from typing import Protocol

from cases.core.effects import Notification


class NotificationProvider(Protocol):
    async def deliver(self, notification: Notification) -> list[str]: ...
