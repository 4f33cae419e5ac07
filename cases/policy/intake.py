"""The policy of intake: the signal phrases that set flags from a description, and routing.

The sections `[signals]` and `[routing]` of the policy file. Every key has a default
(STANDARDS S12.2-S12.4), so a policy file written before they existed still loads.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cases.clocks.durations import Duration, DurationText, parse_duration
from cases.intake.text_signals import DEFAULT_SIGNALS
from cases.models import Category, CustomerTier, Tier

Phrase = Annotated[str, StringConstraints(min_length=1, max_length=60)]
TeamName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]{0,39}$")]
FlagName = str
FlagField = Annotated[
    str, StringConstraints(pattern=r"^(safety_risk|outage|cross_department|major_complaint)$")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignalSettings(_Strict):
    """Phrases per flag, Chinese and English; matching ignores width, script and case."""

    safety_risk: list[Phrase] = list(DEFAULT_SIGNALS["safety_risk"])
    outage: list[Phrase] = list(DEFAULT_SIGNALS["outage"])
    major_complaint: list[Phrase] = list(DEFAULT_SIGNALS["major_complaint"])

    def table(self) -> dict[FlagName, tuple[str, ...]]:
        return {
            "safety_risk": tuple(self.safety_risk),
            "outage": tuple(self.outage),
            "major_complaint": tuple(self.major_complaint),
        }


class RoutingRule(_Strict):
    """A case matching every condition given goes to `team`; the first matching rule wins."""

    team: TeamName
    categories: list[Category] = []
    tiers: list[Tier] = []
    customer_tiers: list[CustomerTier] = []
    flags: list[FlagField] = []


class RoutingSettings(_Strict):
    default_team: TeamName = "customer_service"
    rules: list[RoutingRule] = [RoutingRule(team="major_complaints", flags=["major_complaint"])]
    # An assigned agent who has not acknowledged by then is bypassed (STANDARDS S12.3).
    acceptance_window: dict[Tier, DurationText] = {
        Tier.URGENT: "15m",
        Tier.COMPLEX: "2h",
        Tier.GENERAL: "2h",
    }
    # Temporal task priority keys (1 is served first, 5 last; 3 is Temporal's default).
    urgent_priority: Annotated[int, Field(ge=1, le=5)] = 1
    vip_priority: Annotated[int, Field(ge=1, le=5)] = 2
    default_priority: Annotated[int, Field(ge=1, le=5)] = 3


class IntakeSettings(_Strict):
    signals: SignalSettings = SignalSettings()
    routing: RoutingSettings = RoutingSettings()

    def snapshot(self, working_day_seconds: float) -> IntakeSnapshot:
        r = self.routing
        return IntakeSnapshot(
            signals=self.signals.table(),
            default_team=r.default_team,
            rules=[rule.model_copy(deep=True) for rule in r.rules],
            acceptance_window={
                tier: parse_duration(r.acceptance_window.get(tier, "2h"), working_day_seconds)
                for tier in Tier
            },
            urgent_priority=r.urgent_priority,
            vip_priority=r.vip_priority,
            default_priority=r.default_priority,
        )


class IntakeSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    signals: dict[FlagName, tuple[str, ...]]
    default_team: str
    rules: list[RoutingRule]
    acceptance_window: dict[Tier, Duration]
    urgent_priority: int
    vip_priority: int
    default_priority: int

    def team_for(
        self, category: Category, tier: Tier, customer_tier: CustomerTier, flags: dict[str, bool]
    ) -> str:
        for rule in self.rules:
            if rule.categories and category not in rule.categories:
                continue
            if rule.tiers and tier not in rule.tiers:
                continue
            if rule.customer_tiers and customer_tier not in rule.customer_tiers:
                continue
            if rule.flags and not all(flags.get(f, False) for f in rule.flags):
                continue
            return rule.team
        return self.default_team

    def priority(self, tier: Tier, customer_tier: CustomerTier) -> int:
        return priority_key(self, tier, customer_tier)


def priority_key(keys: RoutingSettings | IntakeSnapshot, tier: Tier, customer_tier: CustomerTier) -> int:
    """The Temporal task priority key of a case: urgent first, then VIP, then the rest."""
    if tier == Tier.URGENT:
        return keys.urgent_priority
    if customer_tier == CustomerTier.VIP:
        return keys.vip_priority
    return keys.default_priority


DEFAULT_INTAKE = IntakeSettings().snapshot(9 * 3600.0)
