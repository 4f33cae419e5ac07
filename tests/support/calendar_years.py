"""Years chosen from what the installed `holidays` package knows, not from the calendar on the wall.

The package learns China's make-up working days (调休) for a year only in a release after the
year is announced, and pyproject allows any newer release. A test of the "unannounced year"
warning therefore asks the package which year that is, instead of naming 2027.
"""

from __future__ import annotations

from datetime import date, timedelta

from cases.clocks.calendar import CalendarSettings

# The package's estimates of China's days off run to 2100.
_SEARCH = range(2020, 2101)


def unannounced_cn_year() -> int:
    """The first year with CN days off but no make-up working days, after a year that had some."""
    settings = CalendarSettings(holidays_country="CN")
    had_workdays = False
    for year in _SEARCH:
        resolved = settings.resolve([year])
        if had_workdays and resolved.holidays and not resolved.workdays:
            return year
        had_workdays = bool(resolved.workdays)
    raise AssertionError(f"the holidays package knows make-up working days for every year of {_SEARCH}")


def plain_day(year: int, weekdays: tuple[int, ...]) -> date:
    """The first day from 1 March of `year` on one of `weekdays` (0 Monday .. 6 Sunday) that is
    no CN public holiday: a day of one's own to add as a day off or a worked weekend day."""
    off = set(CalendarSettings(holidays_country="CN").resolve([year]).holidays)
    day = date(year, 3, 1)
    while day in off or day.weekday() not in weekdays:
        day += timedelta(days=1)
    return day
