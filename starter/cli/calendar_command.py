"""`aftersales calendar check YEAR`: the days off and make-up working days the engine will use.

China publishes next year's holidays and make-up working days (调休) late in the year, and the
`holidays` package learns them only in a later release; until then it estimates the days off and
knows no make-up days at all. A case opened meanwhile captures that estimate. This command shows
the year as the policy in force resolves it, and warns on stderr (the exit status stays 0) when
the year looks unannounced, saying how to fix new and running cases.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from cases.clocks.calendar import CalendarSettings
from cases.policy.snapshot import DEFAULT_POLICY_RESOURCE, load_policy
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import print_json

FIRST_YEAR, LAST_YEAR = 1970, 2200
MAKE_UP = "make-up working day (调休)"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("calendar", help="the business calendar of the policy in force")
    calendar = p.add_subparsers(dest="calendar_command", required=True)
    check = calendar.add_parser(
        "check", help="list a year's holidays and make-up working days; warn if it looks unannounced"
    )
    check.add_argument("year")


async def cmd_calendar(args: argparse.Namespace, settings: Settings) -> None:
    year = parse_year(args.year)
    policy = load_policy(settings.policy_path)
    source = str(settings.policy_path) if settings.policy_path else f"cases/{DEFAULT_POLICY_RESOURCE}"
    report = year_report(policy.calendar, year)
    for warning in report["warnings"]:
        print(f"aftersales calendar check: warning: {warning}", file=sys.stderr)
    print_json({"policy": source} | report)


def parse_year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise UserError(f"YEAR must be a year such as 2027, got {text!r}") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise UserError(f"YEAR must be between {FIRST_YEAR} and {LAST_YEAR}, got {year}")
    return year


def year_report(settings: CalendarSettings, year: int) -> dict[str, Any]:
    """YEAR's days off and worked weekend days as the engine resolves them, named, with warnings."""
    resolved = settings.resolve([year])
    names = _package_names(settings.holidays_country, year)
    extra_off, extra_on = set(settings.extra_holidays), set(settings.extra_workdays)

    def row(day: date, default: str, extra: set[date], key: str) -> dict[str, str]:
        source = f"extra_{key}" if day in extra else settings.holidays_country or ""
        return {"date": day.isoformat(), "weekday": day.strftime("%a"),
                "name": names.get(day, default), "source": source}

    holidays = [row(d, "day off", extra_off, "holidays") for d in resolved.holidays if d.year == year]
    workdays = [row(d, MAKE_UP, extra_on, "workdays") for d in resolved.workdays if d.year == year]
    return {
        "year": year,
        "timezone": settings.timezone,
        "holidays_country": settings.holidays_country,
        "holidays": holidays,
        "workdays": workdays,
        "warnings": unannounced(settings, year, bool(holidays), bool(workdays)),
    }


def unannounced(settings: CalendarSettings, year: int, has_holidays: bool, has_workdays: bool) -> list[str]:
    """Why YEAR looks unannounced: a country that had days off or make-up days the year before
    and has none this year, counting the policy's own additions."""
    country = settings.holidays_country
    if country is None:
        return []
    before = settings.model_copy(update={"extra_holidays": [], "extra_workdays": []}).resolve([year - 1])
    had_holidays = any(d.year == year - 1 for d in before.holidays)
    had_workdays = any(d.year == year - 1 for d in before.workdays)
    fix = (
        "when the days are announced, add the days off to extra_holidays and the worked weekend "
        "days to extra_workdays in the policy's [calendar] (AFTERSALES_POLICY), restart the "
        "workers so new cases capture them, then run `aftersales amend --calendar amended.toml` "
        "(the same [calendar] table) for the running cases"
    )
    warnings = []
    if had_holidays and not has_holidays:
        warnings.append(f"{country} {year} has no public holidays in the holidays package: {fix}")
    if had_workdays and not has_workdays:
        warnings.append(
            f"{country} {year} has no make-up working days (调休), though {year - 1} has: the "
            f"holidays package does not know {year}'s schedule yet and its days off are estimates; "
            f"{fix}"
        )
    return warnings


def _package_names(country: str | None, year: int) -> dict[date, str]:
    if country is None:
        return {}
    import holidays

    return {d: str(name) for d, name in holidays.country_holidays(country, years=[year]).items()}
