"""The report's figures: the pydantic models, and their assembly from the rows of `report.sql`.

A `Report` holds, for the cases opened in a period, one `GroupFigures` for the whole period, one
per tier, one per category (STANDARDS S9.1) and one per merchant, the merchants' duties to the
buyer (`duties.MerchantDuties`) and the platform's interventions (`interventions`). The stored
fields are the counts the SQL returns and the percentiles of first response, assignment and queue
time; every rate is a computed field derived from those counts, so a reader can always see what a
percentage was taken of (STANDARDS S9.2).
`assemble` is a pure function of the rows: it orders groups and clocks as the domain enums do and
fills empty tiers.
The satisfied-rating threshold (STANDARDS S6.3) and the CSAT target (STANDARDS S6.4) live here,
and the SQL takes the threshold as a parameter, so each rule is stated once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, computed_field

from cases.clocks.specs import LABELS
from cases.models import Category, ClockName, Tier
from reports.service.duties import MerchantDuties, assemble_duties
from reports.service.interventions import MerchantInterventions, assemble_interventions
from reports.service.rates import ratio

# STANDARDS S6.4: the satisfied share should reach 90 %.
CSAT_TARGET = 0.90
# STANDARDS S6.3: a rating of 4 or more (on the 1-5 scale of S6.1) counts as satisfied.
SATISFIED_MIN_RATING = 4
RATINGS = (1, 2, 3, 4, 5)

Row = Mapping[str, Any]


class ReportError(Exception):
    """The report cannot be produced as asked (bad period, missing optional dependency)."""


class ClockFigures(BaseModel):
    """One SLA clock in one group. A clock is decided once met or breached; see report.sql."""

    decided: int = 0
    on_time: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """Clocks met without a breach, over clocks met or breached."""
        return ratio(self.on_time, self.decided)


def clock_breaches(clocks: Mapping[str, ClockFigures]) -> tuple[int, int]:
    """(clocks breached, clocks decided), every clock, round and turn together. A decided clock
    that was not on time breached, whether it was met late or never."""
    decided = sum(c.decided for c in clocks.values())
    return decided - sum(c.on_time for c in clocks.values()), decided


def breach_rate(clocks: Mapping[str, ClockFigures]) -> float | None:
    """Clocks breached, over clocks decided: one figure for every clock of a group, so merchants
    of any mix of tiers and clocks can be ranked by it (the report's and the what-if's)."""
    return ratio(*clock_breaches(clocks))


class GroupFigures(BaseModel):
    """Every figure for one group of cases (all, one tier, or one category).

    The stored fields are counts and percentiles; the rates are derived from the counts so a
    reader can always see what a percentage was taken of. The routing figures cover the cases
    with a row in the roster's `case_routing`; a case never routed counts in none of them.
    """

    cases: int = 0
    responded: int = 0
    first_response_p50_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    resolved: int = 0
    handled: int = 0
    rated: int = 0
    csat_mean: float | None = None
    satisfied: int = 0
    csat_distribution: dict[int, int] = {r: 0 for r in RATINGS}
    follow_ups_required: int = 0
    follow_ups_done: int = 0
    escalated_cases: int = 0
    escalations: int = 0
    reopened: int = 0
    returns_authorized: int = 0
    returns_lapsed: int = 0
    inspections: int = 0
    inspections_failed: int = 0
    inspections_silent: int = 0
    routed: int = 0
    assigned: int = 0
    assignment_p50_seconds: float | None = None
    assignment_p90_seconds: float | None = None
    queued: int = 0
    queue_p50_seconds: float | None = None
    queue_p90_seconds: float | None = None
    clocks: dict[str, ClockFigures] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolution_rate(self) -> float | None:
        """Cases with a resolution executed (`resolved_at` set), over cases."""
        return ratio(self.resolved, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complaint_handling_rate(self) -> float | None:
        """Cases dealt with, over cases. A case counts as handled once it has an outcome: it is
        closed, withdrawn or lapsed, or a resolution has been executed (even if the customer has
        yet to confirm or rate it). Cases still waiting for a remedy are not handled."""
        return ratio(self.handled, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def satisfied_share(self) -> float | None:
        """Ratings of SATISFIED_MIN_RATING or more, over ratings given (STANDARDS S6.3)."""
        return ratio(self.satisfied, self.rated)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def csat_target_met(self) -> bool | None:
        """Whether the satisfied share reaches the 90 % target; None without ratings."""
        share = self.satisfied_share
        return None if share is None else share >= CSAT_TARGET

    @computed_field  # type: ignore[prop-decorator]
    @property
    def follow_up_rate(self) -> float | None:
        """Cases with a follow-up outcome recorded (any outcome, including `unreachable`), over
        cases whose follow-up is required."""
        return ratio(self.follow_ups_done, self.follow_ups_required)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def escalated_share(self) -> float | None:
        """Cases escalated at least once, over cases."""
        return ratio(self.escalated_cases, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reopen_rate(self) -> float | None:
        """Cases reopened at least once (dispute or recurrence), over cases."""
        return ratio(self.reopened, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lapse_rate(self) -> float | None:
        """Cases whose return lapsed (not shipped within the return window), over cases with a
        return authorised. Returns still waiting to be shipped count in the denominator."""
        return ratio(self.returns_lapsed, self.returns_authorized)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def inspection_failure_rate(self) -> float | None:
        """Inspection results `failed`, over inspection results. A pass by a silent warehouse
        (`inspections_silent`) is a result, as the case treats it as one."""
        return ratio(self.inspections_failed, self.inspections)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def assigned_share(self) -> float | None:
        """Routed cases that have had an agent assigned at least once, over routed cases."""
        return ratio(self.assigned, self.routed)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clocks_decided(self) -> int:
        return clock_breaches(self.clocks)[1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clocks_breached(self) -> int:
        return clock_breaches(self.clocks)[0]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def breach_rate(self) -> float | None:
        return breach_rate(self.clocks)


class Report(BaseModel):
    """The service report for the cases opened in [since, until).

    `by_tier` always lists the three tiers (an empty tier is worth seeing); `by_category` lists
    only the categories that had cases. Both are in the order of the domain enums. `by_merchant`
    holds every merchant that had cases, by merchant id; the pages show only the worst of them
    (reports/service/merchants.py), so the whole list lives here and in the JSON. So does
    `merchant_duties` for the merchants' duties to the buyer (reports/service/duties.py), and
    `interventions` for the platform stepping in (reports/service/interventions.py).
    """

    since: datetime
    until: datetime
    generated_at: datetime
    csat_target: float = CSAT_TARGET
    overall: GroupFigures
    by_tier: dict[str, GroupFigures]
    by_category: dict[str, GroupFigures]
    # A default: a report saved before merchants were counted still validates.
    by_merchant: dict[str, GroupFigures] = {}
    merchant_duties: MerchantDuties = Field(default_factory=MerchantDuties)
    interventions: MerchantInterventions = Field(default_factory=MerchantInterventions)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clock_labels(self) -> dict[str, str]:
        """The readable name of every clock any group has figures for, in domain order: the
        names the engine's own SLA notices use."""
        groups = [self.overall, *self.by_tier.values(), *self.by_category.values()]
        seen = {name for g in groups for name in g.clocks}
        return {name: clock_label(name) for name in ordered(seen, CLOCK_ORDER)}


def ordered(present: Iterable[str], order: list[str]) -> list[str]:
    """Known names in domain order, then any name the enums do not know (newer data)."""
    names = set(present)
    return [n for n in order if n in names] + sorted(names - set(order))


CLOCK_ORDER = [c.value for c in ClockName]
_LABELS: dict[str, str] = {clock.value: label for clock, label in LABELS.items()}


def clock_label(name: str) -> str:
    """A clock's readable name; a clock newer than this code reads as its name, spaced."""
    return _LABELS.get(name) or name.replace("_", " ")


def assemble(
    since: datetime,
    until: datetime,
    generated_at: datetime,
    case_rows: Sequence[Row],
    clock_rows: Sequence[Row],
    duty_rows: Sequence[Row] = (),
    intervention_rows: Sequence[Row] = (),
) -> Report:
    """The `Report` from the rows of `case_figures`, `clock_figures`, `merchant_duties` and
    `interventions` (see report.sql)."""
    groups: dict[tuple[str, str], GroupFigures] = {}
    for row in case_rows:
        groups[(row["dimension"], row["grp"])] = GroupFigures(
            cases=row["cases"],
            responded=row["responded"],
            first_response_p50_seconds=row["first_response_p50"],
            first_response_p90_seconds=row["first_response_p90"],
            resolved=row["resolved"],
            handled=row["handled"],
            rated=row["rated"],
            csat_mean=row["csat_mean"],
            satisfied=row["satisfied"],
            csat_distribution={r: row[f"rated_{r}"] for r in RATINGS},
            follow_ups_required=row["follow_ups_required"],
            follow_ups_done=row["follow_ups_done"],
            escalated_cases=row["escalated_cases"],
            escalations=row["escalations"],
            reopened=row["reopened"],
            returns_authorized=row["returns_authorized"],
            returns_lapsed=row["returns_lapsed"],
            inspections=row["inspections"],
            inspections_failed=row["inspections_failed"],
            inspections_silent=row["inspections_silent"],
            routed=row["routed"],
            assigned=row["assigned"],
            assignment_p50_seconds=row["assignment_p50"],
            assignment_p90_seconds=row["assignment_p90"],
            queued=row["queued"],
            queue_p50_seconds=row["queue_p50"],
            queue_p90_seconds=row["queue_p90"],
        )
    clocks: dict[tuple[str, str], dict[str, ClockFigures]] = {}
    for row in clock_rows:
        clocks.setdefault((row["dimension"], row["grp"]), {})[row["clock"]] = ClockFigures(
            decided=row["decided"], on_time=row["on_time"]
        )
    for key, figures in groups.items():
        found = clocks.get(key, {})
        figures.clocks = {name: found[name] for name in ordered(found, CLOCK_ORDER)}

    def dimension(name: str, order: list[str], keep_empty: bool) -> dict[str, GroupFigures]:
        present = {grp: g for (dim, grp), g in groups.items() if dim == name}
        names = ordered(present, order)
        if keep_empty:
            names = order + [n for n in names if n not in order]
        return {n: present.get(n) or GroupFigures() for n in names}

    return Report(
        since=since,
        until=until,
        generated_at=generated_at,
        overall=groups.get(("all", "all")) or GroupFigures(),
        by_tier=dimension("tier", [t.value for t in Tier], keep_empty=True),
        by_category=dimension("category", [c.value for c in Category], keep_empty=False),
        by_merchant=dimension("merchant", [], keep_empty=False),
        merchant_duties=assemble_duties(duty_rows),
        interventions=assemble_interventions(intervention_rows),
    )
