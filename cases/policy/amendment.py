"""Policy amendments: the one way a running case's calendar or targets change after it opened
(STANDARDS S1.9).

A case runs on the policy snapshot it captured at its start, so a holiday announced later (China
publishes next year's days off and make-up working days, 调休, late in the year) never reaches it
by itself. An operator sends a `PolicyAmendment`: a resolved calendar and, optionally, new tier
targets. The case keeps every second its open clocks have already counted, and runs what is
left of each budget on the amended rules from the amendment's instant. Pure and deterministic:
the amendment is in the case's history, and replaying it gives the same clocks.

The amended calendar replaces the snapshot's weekly rule, hours and time zone, and its dates
for the years the amendment covers; the hours may move but not change length, since every `wd`
target the case holds was converted to seconds with the snapshot's working day. Years it does
not cover keep the snapshot's dates, so an amendment resolved for this year and the next never
forgets the older years an old case counted in. The same amendment sent twice changes nothing
the second time.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from cases.actions.parsing import validation_message
from cases.clocks import sla
from cases.clocks.calendar import BusinessCalendar
from cases.clocks.durations import Duration, parse_duration
from cases.clocks.specs import HANDLING_CLOCKS
from cases.core.moves import CaseCore, InvalidAction, iso
from cases.models import FINAL_STATUSES, Clock, ClockName, Tier
from cases.policy.snapshot import PolicySnapshot, shared_snapshot

# A calendar of a few years is a few hundred dates: a few KiB. Anything this large is not one.
MAX_AMENDMENT_BYTES = 256 * 1024
# The same bound the policy file puts on a duration: anything longer is a typo.
_MAX_TARGET_SECONDS = 10 * 366 * 86400.0
_CALENDAR_RULES = ("timezone", "work_start", "work_end", "weekend")
# A shorter working day makes every business clock walk the calendar day by day for years on
# end: long enough for the workflow task to time out, and far enough to run off the date range.
_MIN_WORKING_DAY_SECONDS = 3600.0

TierTargets = dict[Tier, dict[ClockName, Duration]]


class AmendmentInputError(ValueError):
    """The payload is not a valid amendment; the message is one line naming the field."""


def amendment_id(calendar: BusinessCalendar, targets: TierTargets | None) -> str:
    """A stable hash of the amendment's content: the same rules always give the same id."""
    content: dict[str, Any] = {"calendar": calendar.model_dump(mode="json")}
    if targets is not None:
        content["targets"] = {
            tier.value: {clock.value: d.model_dump(mode="json") for clock, d in clocks.items()}
            for tier, clocks in targets.items()
        }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PolicyAmendment(BaseModel):
    """What the `amend` update carries: the amended calendar, and targets when they change too.

    `targets` holds only the tiers and clocks that change, as in the policy file's [targets]
    tables; None leaves every target as it is. `id` may be left out: it is the content's hash,
    and one that disagrees with the content is refused.
    """

    model_config = ConfigDict(extra="forbid")

    calendar: BusinessCalendar
    targets: TierTargets | None = None
    id: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> PolicyAmendment:
        day = self.calendar.working_day_seconds
        if day < _MIN_WORKING_DAY_SECONDS:
            raise ValueError(
                f"calendar.work_end: the working day must be at least 1 hour long, got {day:g} s"
            )
        for tier, clocks in (self.targets or {}).items():
            for clock, target in clocks.items():
                where = f"targets.{tier.value}.{clock.value}"
                if clock not in HANDLING_CLOCKS:
                    tier_clocks = ", ".join(c.value for c in HANDLING_CLOCKS)
                    raise ValueError(f"{where}: not a tier target (one of {tier_clocks})")
                if not (math.isfinite(target.seconds) and 0 < target.seconds <= _MAX_TARGET_SECONDS):
                    raise ValueError(f"{where}: must be above zero and at most ten years")
                _check_label(where, target, day)
        expected = amendment_id(self.calendar, self.targets)
        if not self.id:
            self.id = expected
        elif self.id != expected:
            raise ValueError(f"id: does not match the amendment's content (expected {expected})")
        return self


def _check_label(where: str, target: Duration, working_day_seconds: float) -> None:
    # The label is what clocks, events and webhooks show; it must say what the seconds count.
    try:
        parsed = parse_duration(target.label, working_day_seconds)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    if parsed != target:
        raise ValueError(
            f"{where}: label {target.label!r} is {parsed.seconds:g} "
            f"{'business' if parsed.business else 'wall-clock'} seconds, not the "
            f"{target.seconds:g} {'business' if target.business else 'wall-clock'} seconds given"
        )


class AmendmentAnswer(BaseModel):
    """What the case answers: whether its rules changed, and which clocks moved."""

    outcome: Literal["changed", "unchanged"]
    amendment_id: str
    clocks: list[ClockName] = []


def parse_amendment(data: bytes | None) -> PolicyAmendment:
    """The amendment read from its raw JSON bytes (None for a `null` argument)."""
    if data is None:
        raise AmendmentInputError("amend: the payload must be a JSON object (PolicyAmendment)")
    if len(data) > MAX_AMENDMENT_BYTES:
        raise AmendmentInputError(
            f"amend: the payload is {len(data):,} bytes, over the {MAX_AMENDMENT_BYTES:,} a case accepts"
        )
    try:
        return PolicyAmendment.model_validate_json(data)
    except ValidationError as err:
        if any(e["type"] == "model_type" for e in err.errors() if not e["loc"]):
            raise AmendmentInputError(
                "amend: the payload must be a JSON object (PolicyAmendment)"
            ) from None
        raise AmendmentInputError(validation_message(err, "amend.")) from None


def merge_calendar(current: BusinessCalendar, amended: BusinessCalendar) -> BusinessCalendar:
    covered = set(amended.years)

    def outside(days: list[date]) -> set[date]:
        return {d for d in days if d.year not in covered}

    workdays = outside(current.workdays) | set(amended.workdays)
    # A make-up working day wins over a holiday, as in `CalendarSettings.resolve`.
    holidays = (outside(current.holidays) | set(amended.holidays)) - set(amended.workdays)
    # Validated afresh, not model_copy'd: the calendar builds its lookup sets when validated.
    return BusinessCalendar.model_validate(
        amended.model_dump()
        | {
            "holidays": sorted(holidays),
            "workdays": sorted(workdays),
            "years": sorted(covered | set(current.years)),
        }
    )


def amended_policy(policy: PolicySnapshot, amendment: PolicyAmendment) -> PolicySnapshot:
    calendar = merge_calendar(policy.calendar, amendment.calendar)
    targets = {tier: dict(clocks) for tier, clocks in policy.targets.items()}
    for tier, clocks in (amendment.targets or {}).items():
        targets.setdefault(tier, {}).update(clocks)
    return policy.model_copy(update={"calendar": calendar, "targets": targets})


def check(core: CaseCore, amendment: PolicyAmendment, now: datetime) -> None:
    """Raise InvalidAction if the case cannot take `amendment`; never changes anything."""
    _plan(core, amendment, now)


def amend(core: CaseCore, amendment: PolicyAmendment, now: datetime) -> AmendmentAnswer:
    """Put the case on the amended rules at `now`; an amendment that changes nothing is no event."""
    plan = _plan(core, amendment, now)
    if plan is None:
        return AmendmentAnswer(outcome="unchanged", amendment_id=amendment.id)
    policy, clocks, moved = plan
    old = core.policy
    # Cases amended alike share one snapshot, as cases opened alike do.
    core.policy = shared_snapshot(policy)
    core.state.clocks = clocks
    new_cal, old_cal = policy.calendar, old.calendar
    core.emit(
        "amended",
        "system",
        now,
        amendment_id=amendment.id,
        years=new_cal.years,
        holidays_added=_days(set(new_cal.holidays) - set(old_cal.holidays)),
        holidays_removed=_days(set(old_cal.holidays) - set(new_cal.holidays)),
        workdays_added=_days(set(new_cal.workdays) - set(old_cal.workdays)),
        workdays_removed=_days(set(old_cal.workdays) - set(new_cal.workdays)),
        rules=[r for r in _CALENDAR_RULES if getattr(new_cal, r) != getattr(old_cal, r)],
        targets_amended=policy.targets != old.targets,
        clocks=moved,
    )
    return AmendmentAnswer(
        outcome="changed",
        amendment_id=amendment.id,
        clocks=[ClockName(m["clock"]) for m in moved],
    )


_Plan = tuple[PolicySnapshot, dict[ClockName, Clock], list[dict[str, Any]]]


def _plan(core: CaseCore, amendment: PolicyAmendment, now: datetime) -> _Plan | None:
    """The amended policy, the case's clocks on it and what moved; None when nothing would."""
    state = core.state
    if state.status in FINAL_STATUSES:
        raise InvalidAction(f"amend is not accepted: the case is {state.status.value}")
    old = core.policy
    _same_working_day(old.calendar, amendment.calendar)
    try:
        return _replan(core, old, amended_policy(old, amendment), amendment.targets is not None, now)
    except (ValueError, OverflowError) as err:
        # A calendar with no working day left to count in, or one that runs a clock off the end
        # of the date range: refused, the case keeps its rules.
        raise InvalidAction(f"amend: {err}") from None


def _same_working_day(current: BusinessCalendar, amended: BusinessCalendar) -> None:
    # Every `wd` duration of the snapshot and of the open clocks was converted to seconds with
    # the snapshot's working day; other hours would leave 7wd meaning the old day's seconds.
    old_day, new_day = current.working_day_seconds, amended.working_day_seconds
    if old_day != new_day:
        raise InvalidAction(
            f"amend: calendar.work_start/calendar.work_end: working hours cannot change under "
            f"running cases (the case's working day is {old_day / 3600:g} h, the amendment's "
            f"{new_day / 3600:g} h)"
        )


def _replan(
    core: CaseCore, old: PolicySnapshot, policy: PolicySnapshot, retarget: bool, now: datetime
) -> _Plan | None:
    state = core.state
    if policy == old:
        return None
    targets = policy.targets_for(state.tier, state.category, state.intake.customer.tier)
    clocks = {name: clock.model_copy(deep=True) for name, clock in state.clocks.items()}
    moved: list[dict[str, Any]] = []
    for name, clock in clocks.items():
        if not sla.is_open(clock):
            continue  # met and stopped clocks keep the record they have
        before = (clock.due_at, clock.warn_at, clock.target_label)
        sla.carry_over(clock, now, old.calendar, policy.calendar, policy.warning_fraction)
        if clock.breached_at is not None:
            continue  # a breach is never undone, nor its target rewritten
        target = targets.get(name) if retarget and name in HANDLING_CLOCKS else None
        if target is not None and _differs(clock, target):
            sla.retarget(clock, target, policy.calendar, policy.warning_fraction)
        if (clock.due_at, clock.warn_at, clock.target_label) != before:
            moved.append(
                {
                    "clock": name.value,
                    "old_due_at": iso(before[0]),
                    "new_due_at": iso(clock.due_at),
                    "old_warn_at": iso(before[1]),
                    "new_warn_at": iso(clock.warn_at),
                    "old_target": before[2],
                    "new_target": clock.target_label,
                }
            )
    return policy, clocks, moved


def _differs(clock: Clock, target: Duration) -> bool:
    return (clock.target_seconds, clock.business, clock.target_label) != (
        target.seconds,
        target.business,
        target.label,
    )


def _days(days: set[date]) -> list[str]:
    return [d.isoformat() for d in sorted(days)]
