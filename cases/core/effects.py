"""What the case machine decides the outside world must hear or keep, beside its audit events.

Pure models: the machine queues them, the workflow hands them to activities.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from cases.models import Clock


class RetiredClock(BaseModel):
    """A clock from an earlier round of handling (before a reopen), in its final form."""

    round: int
    clock: Clock


class Audience(StrEnum):
    CUSTOMER = "customer"
    SUPERVISOR = "supervisor"


class NotificationChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    PUSH = "push"
    INTERNAL = "internal"


class Notification(BaseModel):
    key: str
    case_id: str
    kind: str
    audience: Audience
    recipient: str
    channels: list[NotificationChannel]
    subject: str
    body: str
    data: dict[str, Any] = {}
