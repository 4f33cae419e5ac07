"""The business calendar: working hours, weekends, public holidays and make-up working days.

`CalendarSettings` is what the policy file holds. `resolve` turns it into a `BusinessCalendar`, a
plain list of dates with no dependency on the `holidays` package, so it can be stored in a case's
history and used inside workflow code, where it gives the same answer on every replay. The
calendar counts working time between two instants and finds the instant at which a budget of
working time runs out; `elapsed` and `advance` wrap both for clocks that may be wall-clock or
business-time. Arithmetic is done on `timedelta`s (exact microseconds) so that
`elapsed(start, advance(start, s)) == s` holds for any `s` with microsecond precision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PrivateAttr,
    field_validator,
    model_validator,
)

_ONE_DAY = timedelta(days=1)
# A calendar whose holidays swallow this many consecutive days has no working time left to find.
_MAX_IDLE_DAYS = 3660


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)"
        ) from None
    return name


def _check_weekend(days: list[int]) -> list[int]:
    bad = [d for d in days if not 0 <= d <= 6]
    if bad:
        raise ValueError(f"weekend days must be 0 (Monday) .. 6 (Sunday), got {bad}")
    unique = sorted(set(days))
    if len(unique) == 7:
        raise ValueError("weekend cannot cover all seven days: no working time would remain")
    return unique


def _check_hours(work_start: time, work_end: time) -> None:
    if work_start.tzinfo is not None or work_end.tzinfo is not None:
        raise ValueError("work_start and work_end are local times; the time zone is `timezone`")
    if not work_start < work_end:
        raise ValueError(f"work_start {work_start} must be before work_end {work_end}")


TimezoneName = Annotated[str, AfterValidator(_check_timezone)]
Weekend = Annotated[list[int], AfterValidator(_check_weekend)]


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}")


class CalendarSettings(BaseModel):
    """The `[calendar]` table of the policy file."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimezoneName = "Asia/Shanghai"
    work_start: time = time(9, 0)
    work_end: time = time(18, 0)
    weekend: Weekend = [5, 6]
    holidays_country: str | None = "CN"
    extra_holidays: list[date] = []
    extra_workdays: list[date] = []

    @field_validator("holidays_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        # Imported here, never at module level: this module is loaded inside the workflow
        # sandbox, which only ever sees the resolved BusinessCalendar.
        # TOML has no null, so an empty string is how a file says "no public holidays".
        if value is None or not value.strip():
            return None
        value = value.strip()
        import holidays

        try:
            holidays.country_holidays(value)
        except NotImplementedError:
            raise ValueError(
                f"unknown holidays country {value!r} (use an ISO 3166 code such as CN, "
                "or \"\" for no public holidays)"
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSettings:
        _check_hours(self.work_start, self.work_end)
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"{listed} listed in both extra_holidays and extra_workdays")
        return self

    def resolve(self, years: Iterable[int]) -> BusinessCalendar:
        """Freeze the calendar for `years`: holidays and make-up workdays become plain dates."""
        covered = sorted(set(years))
        holidays_: set[date] = set()
        workdays: set[date] = set()
        if self.holidays_country is not None and covered:
            import holidays

            country = holidays.country_holidays(self.holidays_country, years=covered)
            holidays_ = {d for d in country.keys() if d.year in covered}
            # China's 调休 Saturdays and Sundays; other countries have no such attribute.
            make_up = getattr(country, "weekend_workdays", None) or set()
            workdays = {d for d in make_up if d.year in covered}
        holidays_ |= set(self.extra_holidays)
        workdays |= set(self.extra_workdays)
        holidays_ -= set(self.extra_workdays)
        return BusinessCalendar(
            timezone=self.timezone,
            work_start=self.work_start,
            work_end=self.work_end,
            weekend=list(self.weekend),
            holidays=sorted(holidays_),
            workdays=sorted(workdays),
            years=covered,
        )


class BusinessCalendar(BaseModel):
    """A resolved calendar. Pure and deterministic: safe in workflow code and in histories.

    Dates outside `years` follow the weekly rule only, since their holidays were never resolved.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: TimezoneName
    work_start: time
    work_end: time
    weekend: Weekend
    holidays: list[date]
    workdays: list[date]
    years: list[int]

    _zone: ZoneInfo = PrivateAttr()
    _holiday_set: frozenset[date] = PrivateAttr()
    _workday_set: frozenset[date] = PrivateAttr()
    _weekend_set: frozenset[int] = PrivateAttr()

    @model_validator(mode="after")
    def _consistent(self) -> BusinessCalendar:
        _check_hours(self.work_start, self.work_end)
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._zone = ZoneInfo(self.timezone)
        self._holiday_set = frozenset(self.holidays)
        self._workday_set = frozenset(self.workdays)
        self._weekend_set = frozenset(self.weekend)

    @property
    def _private(self) -> dict[str, Any]:
        # The lookup sets, read straight from pydantic's private store: the ordinary attribute
        # path for a private name costs some 10 µs, and counting working time walks day by day,
        # thousands of lookups per case (what-if replays tens of thousands of cases).
        private = self.__pydantic_private__
        assert private is not None
        return private

    @property
    def zone(self) -> ZoneInfo:
        zone: ZoneInfo = self._private["_zone"]
        return zone

    @property
    def working_day_seconds(self) -> float:
        start = datetime.combine(date(2000, 1, 1), self.work_start)
        end = datetime.combine(date(2000, 1, 1), self.work_end)
        return (end - start).total_seconds()

    def is_working_day(self, d: date) -> bool:
        # Make-up workdays win over everything: they are Saturdays or Sundays by definition.
        private = self._private
        if d in private["_workday_set"]:
            return True
        if d in private["_holiday_set"]:
            return False
        return d.weekday() not in private["_weekend_set"]

    def _period(self, d: date) -> tuple[datetime, datetime]:
        """The working period of local day `d`, as UTC instants."""
        zone = self.zone
        start = datetime.combine(d, self.work_start, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(d, self.work_end, tzinfo=zone).astimezone(UTC)
        return start, end

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def business_timedelta_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time between two aware instants, exact to the microsecond."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        # Subtracting aware datetimes that share a tzinfo compares wall times; UTC avoids that.
        a_utc, b_utc = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        if b_utc <= a_utc:
            return total
        day, last = self._local_date(a_utc), self._local_date(b_utc)
        while day <= last:
            if self.is_working_day(day):
                start, end = self._period(day)
                lo, hi = max(start, a_utc), min(end, b_utc)
                if hi > lo:
                    total += hi - lo
            day += _ONE_DAY
        return total

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Seconds of working time between two aware instants; 0 when `b` is not after `a`."""
        return self.business_timedelta_between(a, b).total_seconds()

    def add_business_timedelta(self, start: datetime, budget: timedelta) -> datetime:
        """The earliest instant at which `budget` of working time after `start` is used up."""
        _require_aware(start, "start")
        if budget < timedelta(0):
            raise ValueError(f"cannot add a negative amount of working time ({budget})")
        cursor = start.astimezone(UTC)
        if budget == timedelta(0):
            return cursor
        remaining = budget
        day = self._local_date(cursor)
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                period_start, period_end = self._period(day)
                if period_end > cursor:
                    begin = max(period_start, cursor)
                    available = period_end - begin
                    # `<=` so a budget that runs out exactly at work_end ends there, not at the
                    # next morning's work_start.
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValueError(f"no working day within {_MAX_IDLE_DAYS} days after {day}")
            day += _ONE_DAY

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant t with business_seconds_between(start, t) == seconds, in UTC."""
        return self.add_business_timedelta(start, _to_timedelta(seconds))


def _to_timedelta(seconds: float) -> timedelta:
    if not math.isfinite(seconds):
        raise ValueError(f"seconds must be finite, got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds!r}")
    return timedelta(seconds=seconds)


def elapsed(calendar: BusinessCalendar, business: bool, a: datetime, b: datetime) -> float:
    """Seconds from `a` to `b` in the clock's metric: wall-clock, or working time."""
    if business:
        return calendar.business_seconds_between(a, b)
    _require_aware(a, "a")
    _require_aware(b, "b")
    return max(timedelta(0), b.astimezone(UTC) - a.astimezone(UTC)).total_seconds()


def advance(
    calendar: BusinessCalendar, business: bool, start: datetime, seconds: float
) -> datetime:
    """The instant `seconds` after `start` in the clock's metric, in UTC."""
    if business:
        return calendar.add_business_seconds(start, seconds)
    _require_aware(start, "start")
    return start.astimezone(UTC) + _to_timedelta(seconds)
