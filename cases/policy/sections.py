"""Two sections of the policy file: the per-customer and per-category overrides of the tier
targets, and the escalation ladder (STANDARDS S2.1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from cases.clocks.durations import DurationText
from cases.models import Category, ClockName, CustomerTier, Tier

ClockTargets = dict[ClockName, DurationText]


class _Strict(BaseModel):
    # A misspelt key in a hand-edited file must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid")


def _only_tier_clocks(
    overrides: dict[Any, dict[ClockName, str]],
) -> dict[Any, dict[ClockName, str]]:
    for key, clocks in overrides.items():
        if ClockName.APPROVAL in clocks:
            raise ValueError(
                f"{key}: approval cannot be overridden here; set [approval] target instead"
            )
    return overrides


class Overrides(_Strict):
    """Per-customer-tier and per-category targets. They can only tighten a tier's target."""

    customer: Annotated[
        dict[CustomerTier, ClockTargets], AfterValidator(_only_tier_clocks)
    ] = {}
    category: Annotated[dict[Category, ClockTargets], AfterValidator(_only_tier_clocks)] = {}


class EscalationSettings(_Strict):
    """The three-level response structure (STANDARDS S2.1): 3 is the front line, 1 the top."""

    levels: dict[int, str] = {
        3: "frontline service outlet",
        2: "regional service center",
        1: "headquarters",
    }
    supervisors: dict[int, str] = {
        3: "outlet-supervisor",
        2: "regional-supervisor",
        1: "hq-duty-manager",
    }
    start_level: dict[Tier, int] = {Tier.URGENT: 2, Tier.COMPLEX: 3, Tier.GENERAL: 3}

    @model_validator(mode="after")
    def _consistent(self) -> EscalationSettings:
        # Escalating moves from level n to n - 1 and stops at 1, so the levels must be 1..N.
        expected = set(range(1, len(self.levels) + 1))
        if not self.levels or set(self.levels) != expected:
            raise ValueError(
                f"levels must be numbered 1..N without gaps, got {sorted(self.levels)}"
            )
        if set(self.supervisors) != set(self.levels):
            raise ValueError(
                f"supervisors must name one supervisor per level {sorted(self.levels)}, "
                f"got levels {sorted(self.supervisors)}"
            )
        missing = [t.value for t in Tier if t not in self.start_level]
        if missing:
            raise ValueError(f"start_level lacks tier(s) {', '.join(missing)}")
        bad = {t.value: n for t, n in self.start_level.items() if n not in self.levels}
        if bad:
            raise ValueError(f"start_level {bad} refers to undefined level(s)")
        return self
