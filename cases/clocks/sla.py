"""SLA clock arithmetic: start, pause, resume, meet, retarget, and what falls due when.

A clock counts time only while it runs, in its own metric (wall-clock seconds, or working
seconds on the business calendar). Instead of a periodic sweep, every clock knows the exact
instants of its warning and its breach, so the workflow can sleep until precisely the next one.
Pure functions over the `Clock` model: deterministic, no I/O, safe inside workflow code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cases.clocks.calendar import BusinessCalendar, advance, elapsed
from cases.clocks.durations import Duration
from cases.models import Clock, ClockName, ClockState

# Clocks that are finished: nothing more can fall due on them.
_SETTLED = frozenset({ClockState.MET})


@dataclass(frozen=True)
class ClockEvent:
    clock: ClockName
    kind: str  # "warning" or "breach"
    due_at: datetime


def start_clock(
    name: ClockName,
    target: Duration,
    at: datetime,
    calendar: BusinessCalendar,
    warning_fraction: float,
) -> Clock:
    clock = Clock(
        name=name,
        target_seconds=target.seconds,
        business=target.business,
        target_label=target.label,
        started_at=at,
        running_since=at,
    )
    _schedule(clock, calendar, warning_fraction)
    return clock


def is_open(clock: Clock) -> bool:
    """True while the clock still counts towards a met or missed target."""
    return clock.met_at is None and clock.stopped_at is None


def _consumed_until(clock: Clock, at: datetime, calendar: BusinessCalendar) -> float:
    used = clock.consumed_seconds
    if clock.running_since is not None:
        used += elapsed(calendar, clock.business, clock.running_since, at)
    return used


def _schedule(clock: Clock, calendar: BusinessCalendar, warning_fraction: float) -> None:
    """Recompute the warning and breach instants from what is left of the budget."""
    if clock.running_since is None or not is_open(clock):
        clock.due_at = None
        clock.warn_at = None
        return
    if clock.breached_at is None:
        left = max(0.0, clock.target_seconds - clock.consumed_seconds)
        clock.due_at = advance(calendar, clock.business, clock.running_since, left)
    else:
        clock.due_at = None
    warn_budget = clock.target_seconds * warning_fraction
    if clock.warned_at is None and clock.breached_at is None:
        left = max(0.0, warn_budget - clock.consumed_seconds)
        clock.warn_at = advance(calendar, clock.business, clock.running_since, left)
    else:
        clock.warn_at = None


def pause(clock: Clock, at: datetime, calendar: BusinessCalendar) -> None:
    if clock.running_since is None or not is_open(clock) or clock.breached_at is not None:
        return
    clock.consumed_seconds = _consumed_until(clock, at, calendar)
    clock.running_since = None
    clock.paused_at = at
    clock.due_at = None
    clock.warn_at = None
    clock.state = ClockState.PAUSED


def resume(clock: Clock, at: datetime, calendar: BusinessCalendar, warning_fraction: float) -> None:
    if clock.running_since is not None or not is_open(clock):
        return
    clock.running_since = at
    clock.paused_at = None
    clock.state = ClockState.WARNED if clock.warned_at else ClockState.RUNNING
    _schedule(clock, calendar, warning_fraction)


def meet(clock: Clock, at: datetime, calendar: BusinessCalendar) -> None:
    """Stop the clock because its goal was reached; a breached clock stays breached."""
    if not is_open(clock):
        return
    clock.elapsed_seconds = _consumed_until(clock, at, calendar)
    clock.consumed_seconds = clock.elapsed_seconds
    clock.running_since = None
    clock.met_at = at
    clock.due_at = None
    clock.warn_at = None
    if clock.breached_at is None:
        clock.state = ClockState.MET


def stop(clock: Clock, at: datetime, calendar: BusinessCalendar) -> None:
    """Stop a clock whose goal no longer applies (the case was withdrawn or reopened)."""
    if not is_open(clock):
        return
    clock.consumed_seconds = _consumed_until(clock, at, calendar)
    clock.running_since = None
    clock.stopped_at = at
    clock.due_at = None
    clock.warn_at = None


def retarget(
    clock: Clock, target: Duration, calendar: BusinessCalendar, warning_fraction: float
) -> None:
    """Give a clock a new target, counted from the clock's own start (reclassification)."""
    if not is_open(clock):
        return
    clock.target_seconds = target.seconds
    clock.business = target.business
    clock.target_label = target.label
    _schedule(clock, calendar, warning_fraction)


def carry_over(
    clock: Clock,
    at: datetime,
    before: BusinessCalendar,
    after: BusinessCalendar,
    warning_fraction: float,
) -> None:
    """Move an open clock onto another calendar at `at` (a policy amendment).

    The time it counted up to `at` stays as `before` counted it; what is left of its budget runs
    on `after` from `at`. A paused clock has nothing to carry: it takes `after` when it resumes.
    A breached clock keeps its breach, which no later rule can undo, but still counts from `at`
    on `after`, so what it reports when met is not its past re-counted on the amended calendar.
    """
    if not is_open(clock) or clock.running_since is None:
        return
    clock.consumed_seconds = _consumed_until(clock, at, before)
    clock.running_since = at
    if clock.breached_at is None:
        _schedule(clock, after, warning_fraction)


def due_events(clock: Clock, now: datetime) -> list[ClockEvent]:
    """Warnings and breaches that are due at `now`, in time order. Marks them as fired."""
    events: list[ClockEvent] = []
    if clock.warn_at is not None and clock.warn_at <= now:
        events.append(ClockEvent(clock.name, "warning", clock.warn_at))
        clock.warned_at = clock.warn_at
        clock.warn_at = None
        if clock.state == ClockState.RUNNING:
            clock.state = ClockState.WARNED
    if clock.due_at is not None and clock.due_at <= now:
        events.append(ClockEvent(clock.name, "breach", clock.due_at))
        clock.breached_at = clock.due_at
        clock.breach_detected_at = now
        clock.due_at = None
        clock.warn_at = None
        clock.state = ClockState.BREACHED
    return events


def next_instant(clocks: list[Clock]) -> tuple[datetime, ClockEvent] | None:
    """The earliest pending warning or breach across clocks."""
    best: tuple[datetime, ClockEvent] | None = None
    for clock in clocks:
        for at, kind in ((clock.warn_at, "warning"), (clock.due_at, "breach")):
            if at is not None and (best is None or at < best[0]):
                best = (at, ClockEvent(clock.name, kind, at))
    return best


def elapsed_now(clock: Clock, now: datetime, calendar: BusinessCalendar) -> float:
    return _consumed_until(clock, now, calendar)
