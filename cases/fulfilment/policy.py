"""The policy of the physical legs and the conversation: return window, inspection, repair and
next-reply targets, as the operator writes them and as a case's snapshot holds them.

The sections `[returns]`, `[repair]` and `[conversation]` of the policy file. Every key has the
default given in docs/STANDARDS.md (S10, S11), so a policy file written before they existed still loads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cases.clocks.durations import Duration, DurationText, parse_duration
from cases.models import CustomerTier, Tier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnSettings(_Strict):
    window: DurationText = "7d"
    # A shipped return that has not arrived by then escalates: someone chases the carrier.
    transit_window: DurationText = "7d"
    inspection_window: DurationText = "72h"
    # What a warehouse's silence past the inspection window means: the goods pass, or a person
    # is called in.
    silent_warehouse: Literal["pass", "escalate"] = "pass"
    address: Annotated[str, StringConstraints(min_length=1, max_length=300)] = (
        "Returns Centre, 1 Warehouse Road, Shanghai"
    )
    # refund_only without a lost parcel or a waiver: for orders up to this amount.
    refund_only_max_amount: Annotated[Decimal, Field(ge=0)] = Decimal("50")


class RepairSettings(_Strict):
    response: DurationText = "48h"
    # The visit is booked this long after the repair is approved, and never after its response
    # target.
    visit_lead: DurationText = "24h"


class ConversationSettings(_Strict):
    next_reply: dict[Tier, DurationText] = {Tier.URGENT: "1h", Tier.COMPLEX: "24h", Tier.GENERAL: "24h"}
    # Tighter of this and the tier's target for VIP customers.
    next_reply_vip: DurationText = "15m"


class FulfilmentSettings(_Strict):
    returns: ReturnSettings = ReturnSettings()
    repair: RepairSettings = RepairSettings()
    conversation: ConversationSettings = ConversationSettings()

    def snapshot(self, working_day_seconds: float) -> FulfilmentSnapshot:
        def d(text: str) -> Duration:
            return parse_duration(text, working_day_seconds)

        r, c = self.returns, self.conversation
        tiers = {tier: d(c.next_reply.get(tier, "24h")) for tier in Tier}
        return FulfilmentSnapshot(
            return_window=d(r.window),
            return_transit=d(r.transit_window),
            inspection_window=d(r.inspection_window),
            silent_warehouse=r.silent_warehouse,
            return_address=r.address,
            refund_only_max_amount=r.refund_only_max_amount,
            repair_response=d(self.repair.response),
            repair_visit_lead=d(self.repair.visit_lead),
            next_reply=tiers,
            next_reply_vip=d(c.next_reply_vip),
        )


class FulfilmentSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    return_window: Duration
    return_transit: Duration
    inspection_window: Duration
    silent_warehouse: Literal["pass", "escalate"]
    return_address: str
    refund_only_max_amount: Decimal
    repair_response: Duration
    repair_visit_lead: Duration
    next_reply: dict[Tier, Duration]
    next_reply_vip: Duration

    def next_reply_target(self, tier: Tier, customer_tier: CustomerTier) -> Duration:
        target = self.next_reply[tier]
        vip = self.next_reply_vip
        if customer_tier == CustomerTier.VIP and vip.business == target.business:
            return vip if vip.seconds < target.seconds else target
        return vip if customer_tier == CustomerTier.VIP else target


DEFAULT_FULFILMENT = FulfilmentSettings().snapshot(9 * 3600.0)
