"""The outbox's write side: one `notifications` row per channel, keyed by (key, channel).

The rows come from the projection's `record_case` function, keyed so that a retried write finds
its rows already there. Committing wakes the dispatcher through NOTIFY on `OUTBOX_CHANNEL` (the
function notifies the same channel).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cases.core.effects import Notification

OUTBOX_CHANNEL = "aftersales_outbox"

def outbox_rows(notifications: Sequence[Notification]) -> list[dict[str, Any]]:
    """One row per channel, by column name (the `record_case` function takes them as JSON)."""
    return [
        {"key": n.key, "channel": ch.value, "case_id": n.case_id, "kind": n.kind,
         "audience": n.audience.value, "recipient": n.recipient, "subject": n.subject,
         "body": n.body, "data": n.data}
        for n in notifications
        for ch in n.channels
    ]
