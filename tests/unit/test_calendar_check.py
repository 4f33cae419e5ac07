"""`aftersales calendar check`: what a year resolves to, and when it looks unannounced.

The `holidays` package installed here knows China's 2026 schedule (make-up Sundays and Saturdays
such as 4 January and 14 February) and only estimates 2027: days off, but no make-up days.
"""

from __future__ import annotations

from datetime import date

import pytest

from cases.calendar import CalendarSettings
from runtime.errors import UserError
from starter.cli.calendar_command import parse_year, year_report


def test_an_announced_year_lists_its_days_and_does_not_warn() -> None:
    report = year_report(CalendarSettings(), 2026)
    assert report["warnings"] == []
    workdays = {d["date"]: d for d in report["workdays"]}
    assert workdays["2026-01-04"] == {"date": "2026-01-04", "weekday": "Sun",
                                      "name": "make-up working day (调休)", "source": "CN"}
    holidays = {d["date"]: d["name"] for d in report["holidays"]}
    assert holidays["2026-10-01"] == "National Day"
    assert all(d["date"].startswith("2026-") for d in report["holidays"] + report["workdays"])


def test_cn_2027_without_make_up_days_warns_and_says_how_to_fix() -> None:
    report = year_report(CalendarSettings(), 2027)
    assert report["workdays"] == []
    assert report["holidays"][0] == {"date": "2027-01-01", "weekday": "Fri", "name": "New Year's Day",
                                     "source": "CN"}
    [warning] = report["warnings"]
    assert warning.startswith("CN 2027 has no make-up working days (调休), though 2026 has")
    for needle in ("extra_holidays", "extra_workdays", "[calendar]", "aftersales amend --calendar"):
        assert needle in warning


def test_the_policy_s_own_days_count_and_are_named_as_its_own() -> None:
    settings = CalendarSettings(extra_workdays=[date(2027, 2, 20)], extra_holidays=[date(2027, 2, 11)])
    report = year_report(settings, 2027)
    assert report["warnings"] == []
    assert report["workdays"] == [{"date": "2027-02-20", "weekday": "Sat",
                                   "name": "make-up working day (调休)", "source": "extra_workdays"}]
    assert {"date": "2027-02-11", "weekday": "Thu", "name": "day off", "source": "extra_holidays"} in report["holidays"]


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
