"""The buyer's request on a platform, the order facts the law reads, and what the law decided.

A buyer asks the merchant for a remedy, for a reason, about an order whose facts decide what the
law gives them (STANDARDS S15): when the parcel was signed for, what kind of goods it holds,
whether the buyer accepted at purchase that it cannot be returned without a reason, the
warranty, the three-guarantees catalogue and the item's identity. The request is stated at
intake or on an open case; the case keeps it with the law's verdict and the merchant's answer.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from cases.boundary import NonEmpty, Strict, Text


class Remedy(StrEnum):
    """What the buyer asks for; each is also a resolution type of the same name."""

    REFUND_ONLY = "refund_only"  # 仅退款
    RETURN_REFUND = "return_refund"  # 退货退款
    EXCHANGE = "exchange"  # 换货
    REPAIR = "repair"  # 维修


class RequestReason(StrEnum):
    NO_REASON = "no_reason"  # 七天无理由
    QUALITY_FAULT = "quality_fault"  # 性能故障 (三包)
    NOT_AS_DESCRIBED = "not_as_described"
    NOT_RECEIVED = "not_received"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    OTHER = "other"


class GoodsClass(StrEnum):
    ORDINARY = "ordinary"
    # The four classes the law excludes from no-reason returns (STANDARDS S15.1).
    MADE_TO_ORDER = "made_to_order"
    PERISHABLE = "perishable"
    UNSEALED_DIGITAL = "unsealed_digital"  # downloaded, or unsealed audio-visual goods and software
    PERIODICAL = "periodical"


# Dates far outside any order's life are typos, and the calendar arithmetic must not overflow.
_EARLIEST, _LATEST = 2000, 2100


def _plausible(value: date) -> date:
    if not _EARLIEST <= value.year <= _LATEST:
        raise ValueError(f"must be a date between {_EARLIEST} and {_LATEST}")
    return value


class OrderFacts(Strict):
    """What the order backend knows of the order; none of it is personal data."""

    signed_at: Annotated[AwareDatetime, AfterValidator(_plausible)] | None = None
    goods_class: GoodsClass = GoodsClass.ORDINARY
    # The buyer confirmed at purchase that these goods are not returned without a reason.
    excluded_at_purchase: bool = False
    # The last day of the warranty (三包有效期), in the platform calendar's time zone.
    warranty_ends: Annotated[date, AfterValidator(_plausible)] | None = None
    # The product is in the three-guarantees catalogue (实施三包的部分商品目录).
    three_guarantees: bool = False
    sku: NonEmpty | None = None
    serial: NonEmpty | None = None

    @property
    def item(self) -> tuple[str, str] | None:
        """The item's identity across cases, when both halves are known."""
        return (self.sku, self.serial) if self.sku and self.serial else None


class BuyerRequest(Strict):
    """The request as the buyer states it: at intake, or in `request_remedy` on an open case."""

    remedy: Remedy
    reason: RequestReason
    # The money asked for; the order amount when left out.
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)] | None = None
    note: Text = ""
    order: OrderFacts | None = None

    def beyond(self, order_amount: Decimal) -> str | None:
        """Why the amount does not fit the order, naming the field: what the merchant's silence
        would pay is never more than the order, never nothing, and nothing beside goods."""
        if self.remedy not in (Remedy.REFUND_ONLY, Remedy.RETURN_REFUND) and self.amount:
            return f"amount: {self.remedy.value} moves goods, not money; leave it out"
        if self.amount is not None and self.amount > order_amount:
            return f"amount: {self.amount} exceeds the order amount {order_amount}"
        paid = self.amount if self.amount is not None else order_amount
        if self.remedy in (Remedy.REFUND_ONLY, Remedy.RETURN_REFUND) and paid <= 0:
            return f"amount: a {self.remedy.value} needs an amount above 0"
        return None


class Verdict(BaseModel):
    """One rule of the law read against the request: whether it gives the remedy, and why."""

    rule: str
    gives: list[Remedy] = []
    why: str
    # When the rule's window ends (or ended), where it has one.
    until: datetime | None = None


class Eligibility(BaseModel):
    """What the law gives this request. `rule` names the first rule that gives the remedy asked
    for; a merchant may not refuse a request that has one."""

    rule: str | None = None
    entitled: list[Remedy] = []
    verdicts: list[Verdict] = []


class Answer(StrEnum):
    AGREED = "agreed"
    REJECTED = "rejected"
    AGREED_BY_SILENCE = "agreed_by_silence"


class RequestState(BaseModel):
    remedy: Remedy
    reason: RequestReason
    amount: Decimal
    note: str = ""
    asked_by: str
    asked_at: datetime
    eligibility: Eligibility
    answer: Answer | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    rejection: str = ""

    @property
    def pending(self) -> bool:
        return self.answer is None


class ItemRepairs(BaseModel):
    """Repairs of one item (SKU and serial) recorded in the merchant's earlier cases, read when
    the item was first named and kept in the history, so a replay counts the same."""

    sku: str
    serial: str
    repairs: int = 0
