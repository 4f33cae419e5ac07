"""The review settings of the policy (`[approval]`): what needs approval, its target, and how
much each reviewing role may approve (STANDARDS S3, S13.2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cases.durations import DurationText
from cases.models import ResolutionType, Tier


class ApprovalSettings(BaseModel):
    """Supervisor review (复核) before a resolution is executed."""

    # A misspelt key in a hand-edited file must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")

    threshold: Annotated[Decimal, Field(ge=0)] = Decimal("500")
    target: DurationText = "4h"
    always_for_tiers: list[Tier] = [Tier.URGENT]
    amount_types: list[ResolutionType] = [
        ResolutionType.REFUND,
        ResolutionType.REFUND_ONLY,
        ResolutionType.RETURN_REFUND,
        ResolutionType.EXCHANGE,
        ResolutionType.COMPENSATION,
    ]
    # The most each reviewing role may approve, in the case's currency, or "unlimited"
    # (STANDARDS S13.2). Only these two roles review at all.
    levels: dict[Literal["reviewer", "supervisor"], Annotated[Decimal, Field(ge=0)] | Literal["unlimited"]] = {
        "reviewer": Decimal("2000"),
        "supervisor": "unlimited",
    }
