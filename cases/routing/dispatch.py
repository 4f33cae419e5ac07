"""Who takes a case: the pure choice of agent, and the order a team's queue is served in.

The roster's storage (PostgreSQL, or memory in workflow tests) locks a team, reads its agents and
queue, asks these functions, and writes the answer back in the same transaction; so the choice
is made in one place, and two workers can never hand out the same last seat (STANDARDS S12.3).

Skills are tokens: `category:<category>`, `tier:<tier>`, `lang:<language>` and `vip`. An agent
who lists no token of a kind takes every value of it; an agent with no skills at all has the
team's. A VIP case needs a `vip` agent only in a team that has one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel

from cases.clocks.calendar import BusinessCalendar
from cases.routing.models import Presence, Requirement

_KINDS = ("category", "tier", "lang")
_SKILL = re.compile(r"^(vip|(category|tier|lang):[a-z0-9_\-]{1,40})$")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class Seat(BaseModel):
    """One agent as the choice sees them."""

    agent_id: str
    skills: list[str]
    capacity: int
    load: int
    presence: Presence
    last_assigned_at: datetime | None = None


class Waiting(BaseModel):
    """One queued case."""

    case_id: str
    requirement: Requirement
    priority: int
    queued_at: datetime
    excluded: list[str] = []


def check_skill(token: str) -> str:
    """The token, or ValueError naming it: `roster` input is checked with this."""
    if not _SKILL.match(token):
        raise ValueError(
            f"skill {token!r} is not one of vip, category:<name>, tier:<name>, lang:<code>"
        )
    return token


def parse_hours(text: str) -> tuple[time, time]:
    """`09:00-18:00`, the working hours of a team on the calendar's working days."""
    match = _HOURS.match(text)
    if not match:
        raise ValueError(f"hours {text!r} must look like 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start = time(h1, m1)
    end = time(0, 0) if h2 == 24 else time(h2, m2)
    if h2 != 24 and end <= start:
        raise ValueError(f"hours {text!r}: the end must come after the start")
    return start, end


def qualifies(skills: Iterable[str], requirement: Requirement, vip_team: bool) -> bool:
    tokens = set(skills)
    wanted = {
        "category": requirement.category,
        "tier": requirement.tier,
        "lang": requirement.language,
    }
    for kind in _KINDS:
        listed = {t.split(":", 1)[1] for t in tokens if t.startswith(kind + ":")}
        if listed and wanted[kind] not in listed:
            return False
    return not (requirement.vip and vip_team and "vip" not in tokens)


def _effective(seat: Seat, team_skills: list[str]) -> list[str]:
    return seat.skills or team_skills


def best_seat(
    seats: list[Seat], waiting: Waiting, team_skills: list[str]
) -> Seat | None:
    """The available agent with the skill and the most spare capacity; ties go to the agent
    idle longest (never assigned first), then to the lower id, so the choice is total."""
    vip_team = any("vip" in _effective(s, team_skills) for s in seats)
    candidates = [
        s
        for s in seats
        if s.presence == Presence.AVAILABLE
        and s.load < s.capacity
        and s.agent_id not in waiting.excluded
        and qualifies(_effective(s, team_skills), waiting.requirement, vip_team)
    ]
    if not candidates:
        return None
    floor = datetime.min.replace(tzinfo=waiting.queued_at.tzinfo)
    return min(
        candidates,
        key=lambda s: (-(s.capacity - s.load), s.last_assigned_at or floor, s.agent_id),
    )


def queue_order(waiting: Waiting) -> tuple[Any, ...]:
    """Most urgent first (a lower priority key), then first come, first served."""
    return (waiting.priority, waiting.queued_at, waiting.case_id)


def drain(
    queue: list[Waiting], seats: list[Seat], team_skills: list[str], at: datetime
) -> list[tuple[Waiting, Seat]]:
    """Assign what the free seats allow, in queue order. A case nobody present can take does not
    hold up the cases behind it. The seats' loads are updated as the choice goes."""
    chosen: list[tuple[Waiting, Seat]] = []
    for waiting in sorted(queue, key=queue_order):
        seat = best_seat(seats, waiting, team_skills)
        if seat is None:
            continue
        seat.load += 1
        seat.last_assigned_at = at
        chosen.append((waiting, seat))
    return chosen


def on_shift(hours: str | None, calendar: BusinessCalendar, at: datetime) -> bool:
    """Whether a team with these working hours (None: around the clock) works at `at`."""
    if hours is None:
        return True
    start, end = parse_hours(hours)
    local = at.astimezone(calendar.zone)
    if not calendar.is_working_day(local.date()):
        return False
    now = local.time()
    return start <= now and (end == time(0, 0) or now < end)


def next_shift_start(hours: str | None, calendar: BusinessCalendar, at: datetime) -> datetime | None:
    """The next instant after `at` when the team's shift starts, or None (around the clock)."""
    if hours is None:
        return None
    start, _ = parse_hours(hours)
    local = at.astimezone(calendar.zone)
    day: date = local.date()
    for _ in range(400):
        candidate = datetime.combine(day, start, tzinfo=calendar.zone)
        if candidate > local and calendar.is_working_day(day):
            return candidate
        day += timedelta(days=1)
    return None
