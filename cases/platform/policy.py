"""The `[platform]` section of the policy: the merchant's deadlines and the law's day counts.

Every key has a default (STANDARDS S15). The law sets a floor that no platform policy may go
below: a no-reason return window of at least 7 days, three-guarantees windows of at least 7 and
15 days, an exchange or return offered after at most two failed repairs, and a delivered return
dealt with within 7 days. A file that sets a looser value is refused naming the key. A merchant's
own policy may only tighten these further (`cases/policy/merchant.py`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cases.clocks.durations import Duration, DurationText, parse_duration

# The law's figures (STANDARDS S15.1-S15.3).
LAW_NO_REASON_DAYS = 7
LAW_THREE_GUARANTEES_RETURN_DAYS = 7
LAW_THREE_GUARANTEES_EXCHANGE_DAYS = 15
LAW_REPAIRS_BEFORE_REPLACEMENT = 2
LAW_REFUND_AFTER_RETURN = "7d"


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The merchant answers a buyer's request; silence agrees (a platform rule, STANDARDS S15.4).
    answer_within: DurationText = "48h"
    # The merchant refunds, or reports a failed inspection, after the carrier delivered the return;
    # silence refunds (the law's 7 days, STANDARDS S15.5).
    delivered_return_within: DurationText = LAW_REFUND_AFTER_RETURN
    no_reason_return_days: Annotated[int, Field(ge=LAW_NO_REASON_DAYS, le=366)] = LAW_NO_REASON_DAYS
    three_guarantees_return_days: Annotated[int, Field(ge=LAW_THREE_GUARANTEES_RETURN_DAYS, le=366)] = (
        LAW_THREE_GUARANTEES_RETURN_DAYS
    )
    three_guarantees_exchange_days: Annotated[int, Field(ge=LAW_THREE_GUARANTEES_EXCHANGE_DAYS, le=366)] = (
        LAW_THREE_GUARANTEES_EXCHANGE_DAYS
    )
    repairs_before_replacement: Annotated[int, Field(ge=1, le=LAW_REPAIRS_BEFORE_REPLACEMENT)] = (
        LAW_REPAIRS_BEFORE_REPLACEMENT
    )
    # The platform steps in (STANDARDS S16; JD's rules): when the buyer may ask, ...
    intervention_after_rejection: DurationText = "15d"
    intervention_unsettled_after: DurationText = "24h"
    # ... the evidence windows, the ruling a second arbiter must confirm, carrying it out, appeal.
    intervention_evidence_within: DurationText = "24h"
    intervention_more_evidence_within: DurationText = "4bh"
    intervention_second_arbiter_above: Annotated[Decimal, Field(ge=0)] = Decimal("2000")
    intervention_carry_out_within: DurationText = "24h"
    intervention_appeal_within: DurationText = "7d"

    @field_validator("delivered_return_within")
    @classmethod
    def _within_the_law(cls, value: str) -> str:
        # Working-day targets depend on the calendar; the law counts calendar days.
        given = parse_duration(value, 9 * 3600.0)
        floor = parse_duration(LAW_REFUND_AFTER_RETURN, 9 * 3600.0)
        if given.business:
            raise ValueError(f"{value}: give it in calendar time (the law counts days, not working days)")
        if given.seconds > floor.seconds:
            raise ValueError(f"{value} is looser than the law's {LAW_REFUND_AFTER_RETURN} (STANDARDS S15.5)")
        return value

    def snapshot(self, working_day_seconds: float) -> PlatformSnapshot:
        def d(text: str) -> Duration:
            return parse_duration(text, working_day_seconds)

        return PlatformSnapshot(
            no_reason_return_days=self.no_reason_return_days,
            three_guarantees_return_days=self.three_guarantees_return_days,
            three_guarantees_exchange_days=self.three_guarantees_exchange_days,
            repairs_before_replacement=self.repairs_before_replacement,
            intervention=InterventionSnapshot(
                after_rejection=d(self.intervention_after_rejection),
                unsettled_after=d(self.intervention_unsettled_after),
                second_arbiter_above=self.intervention_second_arbiter_above,
                appeal_within=d(self.intervention_appeal_within),
            ),
        )


class InterventionSnapshot(BaseModel):
    """The intervention's windows that are not clocks of a party's duty (STANDARDS S16)."""

    model_config = ConfigDict(frozen=True)

    after_rejection: Duration
    unsettled_after: Duration
    second_arbiter_above: Decimal
    appeal_within: Duration


class PlatformSnapshot(BaseModel):
    """The day counts a case's eligibility is decided on; its two deadlines are clocks, whose
    targets the snapshot holds with the other clocks'."""

    model_config = ConfigDict(frozen=True)

    no_reason_return_days: int
    three_guarantees_return_days: int
    three_guarantees_exchange_days: int
    repairs_before_replacement: int
    # None in a snapshot taken before interventions existed: its case never takes one.
    intervention: InterventionSnapshot | None = None
