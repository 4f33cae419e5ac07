"""Input and result models of every activity: the boundary between workflow and side effects.

Each request carries an idempotency `key` that the workflow derives from the case and a
per-case counter, so a retried activity, or one replayed after a worker crash, finds its earlier
effect instead of repeating it. Pure models, imported by workflow code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from cases.core.effects import Notification
from cases.ids import DEFAULT_MERCHANT
from cases.models import CaseEvent


class LoadPolicy(BaseModel):
    opened_at: datetime
    # Whose policy: the platform's, laid under the merchant's own (cases/policy/merchant.py).
    merchant_id: str = DEFAULT_MERCHANT


class RecordCase(BaseModel):
    """One record of a case (activities/record_input.py builds it): the read model's rows, the
    top-level fields of the state that moved, the new audit events and the outbox's notifications,
    written in one transaction."""

    row: dict[str, Any]
    state: dict[str, Any]
    # The digest of the stored state `state` applies to ("" when `state` is whole), and of the
    # state it makes.
    base: str = ""
    digest: str = ""
    events: list[CaseEvent]
    clocks: list[dict[str, Any]] = []
    survey: dict[str, Any] | None = None
    notifications: list[Notification] = []

    @property
    def case_id(self) -> str:
        return str(self.row["case_id"])

    @property
    def last_seq(self) -> int:
        return int(self.row["last_seq"])


class RecordResult(BaseModel):
    events_written: int
    projection_written: bool
    # Whether the store's state is now the one the record made; when not, the workflow sends it
    # whole (activities/record_input.py).
    state_current: bool = True


class MoneyMovementKind(StrEnum):
    REFUND = "refund"
    CREDIT = "credit"
    # The platform pays a ruling first, from its own account (STANDARDS S16.4).
    PLATFORM_REFUND = "platform_refund"


# The reference prefix of each kind of movement.
MOVEMENT_PREFIX = {
    MoneyMovementKind.REFUND: "RF", MoneyMovementKind.CREDIT: "CR", MoneyMovementKind.PLATFORM_REFUND: "PR"
}


class MoneyMovement(BaseModel):
    key: str
    case_id: str
    order_id: str
    customer_id: str
    kind: MoneyMovementKind
    amount: Decimal
    currency: str


class MoneyMovementResult(BaseModel):
    key: str
    reference: str
    status: str


class Reversal(BaseModel):
    key: str
    case_id: str
    reference: str
    reason: str


class ReversalResult(BaseModel):
    key: str
    reference: str
    reversed: bool


class Shipment(BaseModel):
    key: str
    case_id: str
    order_id: str
    customer_id: str


class ShipmentResult(BaseModel):
    key: str
    reference: str


class VisitKind(StrEnum):
    REPAIR = "repair"
    FOLLOW_UP = "follow_up"


class Visit(BaseModel):
    key: str
    case_id: str
    customer_id: str
    kind: VisitKind
    scheduled_for: datetime
    reason: str = ""


class VisitResult(BaseModel):
    key: str
    reference: str
    scheduled_for: datetime


class Cancellation(BaseModel):
    key: str
    case_id: str
    reference: str
    reason: str


class CancellationResult(BaseModel):
    key: str
    reference: str
    cancelled: bool


class Declined(StrEnum):
    """Stable `ApplicationError.type`s for a provider's final refusal; never retried."""

    REFUND = "RefundDeclined"
    SHIPMENT = "ShipmentFailed"
    VISIT = "VisitUnavailable"


class ItemQuery(BaseModel):
    """Whose item: repairs of it in the merchant's cases, this one's too (STANDARDS S15.3)."""

    merchant_id: str
    sku: str
    serial: str
