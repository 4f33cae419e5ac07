"""The review settings of the policy (`[approval]`): what needs approval, its target, and how
much each reviewing role may approve (STANDARDS S3, S13.2)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from cases.clocks.durations import DurationText
from cases.models import ResolutionType, Tier

UNLIMITED: Literal["unlimited"] = "unlimited"


def _level(value: object) -> object:
    # One plain message for a bad level, instead of pydantic's one per branch of the union.
    if value == UNLIMITED:
        return value
    amount = None
    if isinstance(value, int | float | str | Decimal) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise ValueError(f'must be an amount of at least 0 or "{UNLIMITED}", got {value!r}')
    return amount


Level = Annotated[Decimal | Literal["unlimited"], BeforeValidator(_level)]


class ApprovalLevels(BaseModel):
    """The most each reviewing role may approve, in the case's currency (STANDARDS S3.3, S13.2).

    Both roles always have a level: a file that sets only one keeps the shipped value of the
    other, so raising the reviewer's level can never leave supervisors unable to approve.
    """

    model_config = ConfigDict(extra="forbid")

    reviewer: Level = Decimal("2000")
    supervisor: Level = UNLIMITED

    @model_validator(mode="after")
    def _supervisor_covers_reviewer(self) -> ApprovalLevels:
        # An amount over the reviewer's level is sent to a supervisor, who must be able to take it.
        sup, rev = self.supervisor, self.reviewer
        if isinstance(sup, Decimal) and (not isinstance(rev, Decimal) or sup < rev):
            raise ValueError(f"supervisor ({sup}) must be at least reviewer ({rev})")
        return self

    def limits(self) -> dict[str, Decimal | None]:
        """Role -> the most it may approve, None for any amount: the form a case's snapshot keeps."""
        levels = {"reviewer": self.reviewer, "supervisor": self.supervisor}
        return {role: limit if isinstance(limit, Decimal) else None for role, limit in levels.items()}


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
    levels: ApprovalLevels = ApprovalLevels()
