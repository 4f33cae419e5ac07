"""The what-if figures: what happened, and what the candidate policy would have made of it.

`WhatIf` is the one model the renderers read. For each side (`actual`, from the recorded audit
trails; `candidate`, from the replays) it holds, for all cases, per tier and per merchant, the
case count, every SLA clock's verdicts (decided, on time, breached), the escalations and the
approvals needed, all counted from the audit events the same way on both sides, so any
difference is the policy's. Each case counts in the tier it ended in on that side, and in its
merchant (named by its key, cases/ids.py) on both. Rates are derived from counts, as in the
service report (STANDARDS S9.2). `Tally` adds one case at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, computed_field

from cases.ids import DEFAULT_MERCHANT
from cases.models import Tier
from reports.service.figures import CLOCK_ORDER, ClockFigures, breach_rate, clock_breaches, clock_label, ordered
from reports.service.rates import ratio


class ClockVerdicts(ClockFigures):
    """One SLA clock as the service report counts it (every turn met or breached is decided; on
    time is met without a breach), with its breaches and warnings."""

    breached: int = 0
    warned: int = 0


class SideFigures(BaseModel):
    cases: int = 0
    escalations: int = 0
    escalated_cases: int = 0
    approvals_needed: int = 0
    cases_needing_approval: int = 0
    breaches: int = 0
    clocks: dict[str, ClockVerdicts] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def escalated_share(self) -> float | None:
        return ratio(self.escalated_cases, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clocks_decided(self) -> int:
        return clock_breaches(self.clocks)[1]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def breach_rate(self) -> float | None:
        return breach_rate(self.clocks)


class Group(BaseModel):
    actual: SideFigures = SideFigures()
    candidate: SideFigures = SideFigures()


class ReplayCounts(BaseModel):
    """How the replay went: what it fed back, and what it had to leave out."""

    actions: int = 0
    refused: int = 0
    refused_by_action: dict[str, int] = {}
    after_deadline: int = 0
    results_skipped: int = 0
    unmapped_events: dict[str, int] = {}
    # Cases whose replayed trail or end differs at all (0 under the policy they ran on), and
    # those that ended another way: status, tier, escalations or reopens.
    changed_cases: int = 0
    outcome_changed_cases: int = 0
    # Cases whose record kept the instants of a retried opening task (compared by type there).
    retried_openings: int = 0
    # Cases whose policy was amended while they ran: replayed without the amendment.
    amended_cases: int = 0
    failed_cases: int = 0
    examples: list[str] = []


class WhatIf(BaseModel):
    """The cases opened in [since, until), as recorded and as replayed under `policy`."""

    since: datetime
    until: datetime
    generated_at: datetime
    policy: str
    seconds: float = 0.0
    overall: Group = Group()
    by_tier: dict[str, Group] = {t.value: Group() for t in Tier}
    # Every merchant with a case, by merchant id; the pages show only the worst of them.
    by_merchant: dict[str, Group] = {}
    counts: ReplayCounts = ReplayCounts()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clock_labels(self) -> dict[str, str]:
        groups = [self.overall, *self.by_tier.values()]
        seen = {n for g in groups for side in (g.actual, g.candidate) for n in side.clocks}
        return {name: clock_label(name) for name in ordered(seen, CLOCK_ORDER)}


EventLike = tuple[str, Mapping[str, Any]]
MAX_EXAMPLES = 10
# The per-clock counters `_Counts` keeps, in the order of `ClockVerdicts`' fields.
_DECIDED, _ON_TIME, _BREACHED, _WARNED = range(4)


class _Counts:
    """One side of one group while cases are added: plain counters, made a model at the end
    (a pydantic attribute write per event would cost more than the replay)."""

    __slots__ = ("cases", "escalations", "escalated", "approvals", "approval_cases", "clocks")

    def __init__(self) -> None:
        self.cases = self.escalations = self.escalated = self.approvals = self.approval_cases = 0
        self.clocks: dict[str, list[int]] = {}

    @classmethod
    def of(cls, side: SideFigures) -> _Counts:
        """The counts a side's figures were made from."""
        counts = cls()
        counts.cases, counts.escalations, counts.escalated = side.cases, side.escalations, side.escalated_cases
        counts.approvals, counts.approval_cases = side.approvals_needed, side.cases_needing_approval
        counts.clocks = {n: [c.decided, c.on_time, c.breached, c.warned] for n, c in side.clocks.items()}
        return counts

    def absorb(self, other: _Counts) -> None:
        """Add another tally's counts to this one's."""
        self.cases += other.cases
        self.escalations += other.escalations
        self.escalated += other.escalated
        self.approvals += other.approvals
        self.approval_cases += other.approval_cases
        for name, row in other.clocks.items():
            mine = self.clocks.setdefault(name, [0, 0, 0, 0])
            for i, value in enumerate(row):
                mine[i] += value

    def add(self, events: Iterable[EventLike]) -> None:
        self.cases += 1
        escalations = approvals = 0
        clocks = self.clocks
        for kind, data in events:
            if kind == "escalated":
                escalations += 1
            elif kind == "resolution_proposed":
                approvals += bool(data.get("needs_approval"))
            elif kind == "clock_met":
                if data.get("on_time"):
                    row = clocks.setdefault(str(data.get("clock")), [0, 0, 0, 0])
                    row[_DECIDED] += 1
                    row[_ON_TIME] += 1
            elif kind == "clock_breached":
                # A breached clock is decided at its breach; meeting it later changes nothing.
                row = clocks.setdefault(str(data.get("clock")), [0, 0, 0, 0])
                row[_DECIDED] += 1
                row[_BREACHED] += 1
            elif kind == "clock_warning":
                clocks.setdefault(str(data.get("clock")), [0, 0, 0, 0])[_WARNED] += 1
        self.escalations += escalations
        self.escalated += escalations > 0
        self.approvals += approvals
        self.approval_cases += approvals > 0

    def figures(self) -> SideFigures:
        clocks = {
            name: ClockVerdicts(decided=r[_DECIDED], on_time=r[_ON_TIME], breached=r[_BREACHED],
                                warned=r[_WARNED])
            for name in ordered(self.clocks, CLOCK_ORDER)
            for r in [self.clocks[name]]
        }
        return SideFigures(
            cases=self.cases, escalations=self.escalations, escalated_cases=self.escalated,
            approvals_needed=self.approvals, cases_needing_approval=self.approval_cases,
            breaches=sum(c.breached for c in clocks.values()), clocks=clocks,
        )


def side_figures(cases: Iterable[Iterable[EventLike]]) -> SideFigures:
    """The figures of some cases' audit events (one iterable of events per case)."""
    counts = _Counts()
    for events in cases:
        counts.add(events)
    return counts.figures()


# The groupings a case counts in: all cases, its tier on that side, its merchant.
_ALL, _TIER, _MERCHANT = "all", "tier", "merchant"


class Tally:
    """Adds cases to a `WhatIf` one at a time, each side in the tier it ended in and in the
    case's merchant."""

    def __init__(self, report: WhatIf) -> None:
        self.report = report
        self._refused: dict[str, int] = {}
        self._unmapped: dict[str, int] = {}
        self._sides: dict[tuple[str, str, str], _Counts] = {}

    def add(
        self,
        actual: tuple[str, list[EventLike]],
        candidate: tuple[str, list[EventLike]],
        merchant: str = DEFAULT_MERCHANT,
    ) -> None:
        for side, (tier, events) in (("actual", actual), ("candidate", candidate)):
            # The events are read once per side, then added to each group the case is in.
            case = _Counts()
            case.add(events)
            for group in ((_ALL, ""), (_TIER, tier), (_MERCHANT, merchant)):
                counts = self._sides.get((*group, side))
                if counts is None:
                    counts = self._sides[(*group, side)] = _Counts()
                counts.absorb(case)

    def counts(
        self,
        actions: int,
        refused: Mapping[str, int],
        after_deadline: int,
        results_skipped: int,
        unmapped: Mapping[str, int],
        differences: list[str],
        outcome_changed: bool = False,
        retried_opening: bool = False,
        amended: bool = False,
    ) -> None:
        c = self.report.counts
        c.retried_openings += retried_opening
        c.amended_cases += amended
        c.outcome_changed_cases += outcome_changed
        c.actions += actions
        c.after_deadline += after_deadline
        c.results_skipped += results_skipped
        for name, n in refused.items():
            c.refused += n
            self._refused[name] = self._refused.get(name, 0) + n
        for name, n in unmapped.items():
            self._unmapped[name] = self._unmapped.get(name, 0) + n
        c.changed_cases += bool(differences)
        room = MAX_EXAMPLES - len(c.examples)
        if room > 0:
            c.examples += differences[:1][:room]

    def finish(self, seconds: float) -> WhatIf:
        r = self.report
        r.counts.refused_by_action = dict(sorted(self._refused.items()))
        r.counts.unmapped_events = dict(sorted(self._unmapped.items()))
        r.seconds = seconds
        for (dimension, name, side), counts in sorted(self._sides.items(), key=lambda i: i[0]):
            if dimension == _ALL:
                group = r.overall
            elif dimension == _TIER:
                group = r.by_tier.setdefault(name, Group())
            else:
                group = r.by_merchant.setdefault(name, Group())
            setattr(group, side, counts.figures())
        return r


def _merge_sides(sides: list[SideFigures]) -> SideFigures:
    counts = _Counts()
    for side in sides:
        counts.absorb(_Counts.of(side))
    return counts.figures()


def merge(parts: list[WhatIf], seconds: float) -> WhatIf:
    """One `WhatIf` from the parts of one period that were replayed apart (one per process)."""
    first = parts[0]
    tiers = list(dict.fromkeys(t for p in parts for t in p.by_tier))
    merchants = sorted({m for p in parts for m in p.by_merchant})
    counts = ReplayCounts()
    refused: dict[str, int] = {}
    unmapped: dict[str, int] = {}
    for p in parts:
        c = p.counts
        counts.actions += c.actions
        counts.refused += c.refused
        counts.after_deadline += c.after_deadline
        counts.results_skipped += c.results_skipped
        counts.changed_cases += c.changed_cases
        counts.outcome_changed_cases += c.outcome_changed_cases
        counts.retried_openings += c.retried_openings
        counts.amended_cases += c.amended_cases
        counts.failed_cases += c.failed_cases
        counts.examples += c.examples[: MAX_EXAMPLES - len(counts.examples)]
        for name, n in c.refused_by_action.items():
            refused[name] = refused.get(name, 0) + n
        for name, n in c.unmapped_events.items():
            unmapped[name] = unmapped.get(name, 0) + n
    counts.refused_by_action = dict(sorted(refused.items()))
    counts.unmapped_events = dict(sorted(unmapped.items()))

    def group(pick: list[Group]) -> Group:
        return Group(actual=_merge_sides([g.actual for g in pick]),
                     candidate=_merge_sides([g.candidate for g in pick]))

    return WhatIf(
        since=first.since, until=first.until, generated_at=first.generated_at, policy=first.policy,
        seconds=seconds, overall=group([p.overall for p in parts]),
        by_tier={t: group([p.by_tier[t] for p in parts if t in p.by_tier]) for t in tiers},
        by_merchant={m: group([p.by_merchant[m] for p in parts if m in p.by_merchant])
                     for m in merchants},
        counts=counts,
    )
