"""`aftersales calendar check`: what a year resolves to, and when it looks unannounced.

The `holidays` package installed here knows China's 2026 schedule (make-up Sundays and Saturdays
such as 4 January and 14 February). Which later year it only estimates (days off, but no make-up
days) depends on its release, so the tests of the warning ask it (`tests.support.calendar_years`).
"""

from __future__ import annotations

from datetime import date

import pytest

from cases.clocks.calendar import CalendarSettings
from runtime.errors import UserError
from starter.cli.calendar_command import parse_year, year_report
from tests.support.calendar_years import plain_day, unannounced_cn_year


@pytest.fixture(scope="module")
def year() -> int:
    return unannounced_cn_year()


def test_an_announced_year_lists_its_days_and_does_not_warn() -> None:
    report = year_report(CalendarSettings(), 2026)
    assert report["warnings"] == []
    workdays = {d["date"]: d for d in report["workdays"]}
    assert workdays["2026-01-04"] == {"date": "2026-01-04", "weekday": "Sun",
                                      "name": "make-up working day (调休)", "source": "CN"}
    holidays = {d["date"]: d["name"] for d in report["holidays"]}
    assert holidays["2026-10-01"] == "National Day"
    assert all(d["date"].startswith("2026-") for d in report["holidays"] + report["workdays"])


def test_a_cn_year_without_make_up_days_warns_and_says_how_to_fix(year: int) -> None:
    report = year_report(CalendarSettings(), year)
    assert report["workdays"] == []
    assert report["holidays"][0] == {"date": f"{year}-01-01", "weekday": date(year, 1, 1).strftime("%a"),
                                     "name": "New Year's Day", "source": "CN"}
    [warning] = report["warnings"]
    assert warning.startswith(f"CN {year} has no make-up working days (调休), though {year - 1} has")
    for needle in ("extra_holidays", "extra_workdays", "[calendar]", "aftersales amend --calendar"):
        assert needle in warning


def test_the_warning_follows_the_previous_year_not_the_package_s_data(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever the package knows: a year with make-up days before one without is what warns.
    real = CalendarSettings.resolve

    def resolve(self: CalendarSettings, years: list[int]):  # type: ignore[no-untyped-def]
        [y] = years
        workdays = [date(y, 2, 7)] if y == 2040 else []
        own = CalendarSettings(holidays_country="", extra_holidays=[date(y, 1, 1)], extra_workdays=workdays)
        return real(own, years)

    monkeypatch.setattr(CalendarSettings, "resolve", resolve)
    [warning] = year_report(CalendarSettings(), 2041)["warnings"]
    assert warning.startswith("CN 2041 has no make-up working days (调休), though 2040 has")
    assert year_report(CalendarSettings(), 2040)["warnings"] == []
    assert year_report(CalendarSettings(), 2042)["warnings"] == []  # 2041 had none either


def test_the_policy_s_own_days_count_and_are_named_as_its_own(year: int) -> None:
    saturday, weekday = plain_day(year, (5,)), plain_day(year, (0, 1, 2, 3, 4))
    settings = CalendarSettings(extra_workdays=[saturday], extra_holidays=[weekday])
    report = year_report(settings, year)
    assert report["warnings"] == []
    assert report["workdays"] == [{"date": saturday.isoformat(), "weekday": "Sat",
                                   "name": "make-up working day (调休)", "source": "extra_workdays"}]
    assert {"date": weekday.isoformat(), "weekday": weekday.strftime("%a"), "name": "day off",
            "source": "extra_holidays"} in report["holidays"]


def test_a_year_past_what_the_package_knows_warns_of_no_holidays_at_all() -> None:
    # The package's Chinese calendar ends with 2100.
    assert year_report(CalendarSettings(), 2100)["holidays"]
    report = year_report(CalendarSettings(), 2101)
    assert report["holidays"] == []
    assert any(w.startswith("CN 2101 has no public holidays") for w in report["warnings"])
    assert year_report(CalendarSettings(holidays_country=""), 2101)["warnings"] == []


@pytest.mark.parametrize(("text", "message"), [("next", "YEAR must be a year such as 2027, got 'next'"),
                                               ("99999", "YEAR must be between 1970 and 2200, got 99999")])
def test_a_bad_year_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_year(text)
    assert parse_year("2027") == 2027
