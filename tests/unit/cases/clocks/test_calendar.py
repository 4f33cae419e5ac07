"""Business calendar: working days, Chinese holidays and make-up days, and deadline arithmetic."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import pytest
from pydantic import ValidationError

from cases.clocks.calendar import BusinessCalendar, CalendarSettings, advance, elapsed
from cases.clocks.durations import parse_duration

SH = ZoneInfo("Asia/Shanghai")
HOUR = 3600.0
WD = 9 * HOUR


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, us, tzinfo=SH)


@pytest.fixture(scope="module")
def cn() -> BusinessCalendar:
    return CalendarSettings().resolve([2025, 2026, 2027])


# --- what the holidays package says, and that the calendar follows it ------------------------


def test_holidays_package_knows_spring_festival_2026() -> None:
    cn_2026 = holidays.country_holidays("CN", years=2026)
    for d in (16, 17, 18, 19, 20, 23):
        assert date(2026, 2, d) in cn_2026
    assert {date(2026, 2, 14), date(2026, 2, 28)} <= set(cn_2026.weekend_workdays)


def test_spring_festival_2026_working_days(cn: BusinessCalendar) -> None:
    off = [date(2026, 2, d) for d in range(15, 24)]
    assert [cn.is_working_day(d) for d in off] == [False] * 9
    assert cn.is_working_day(date(2026, 2, 13))  # Friday before
    assert cn.is_working_day(date(2026, 2, 14))  # make-up Saturday
    assert cn.is_working_day(date(2026, 2, 24))  # Tuesday after
    assert cn.is_working_day(date(2026, 2, 28))  # make-up Saturday
    assert not cn.is_working_day(date(2026, 3, 1))  # ordinary Sunday


def test_resolved_calendar_content(cn: BusinessCalendar) -> None:
    assert cn.years == [2025, 2026, 2027]
    assert cn.timezone == "Asia/Shanghai"
    assert (cn.work_start, cn.work_end) == (time(9), time(18))
    assert cn.working_day_seconds == WD
    assert date(2026, 2, 14) in cn.workdays
    assert date(2026, 10, 1) in cn.holidays
    assert cn.holidays == sorted(cn.holidays)
    # The package's make-up days span many years; only the covered ones are kept.
    assert all(d.year in (2025, 2026, 2027) for d in cn.workdays + cn.holidays)


def test_calendar_round_trips_through_json(cn: BusinessCalendar) -> None:
    again = BusinessCalendar.model_validate(json.loads(json.dumps(cn.model_dump(mode="json"))))
    assert again == cn
    assert again.is_working_day(date(2026, 2, 14))
    assert not again.is_working_day(date(2026, 2, 17))


def test_importing_cases_does_not_import_holidays() -> None:
    # The workflow sandbox imports these modules; it must not need the holidays package.
    code = (
        "import sys, cases.clocks.calendar, cases.policy.snapshot, cases.clocks.durations, cases.intake.classification;"
        "assert 'holidays' not in sys.modules, 'holidays imported'"
    )
    root = Path(__file__).resolve().parents[4]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- deadlines in working days ----------------------------------------------------------------


def test_two_working_days_over_a_weekend(cn: BusinessCalendar) -> None:
    due = cn.add_business_seconds(at(2026, 11, 20, 15), 2 * WD)
    assert due == at(2026, 11, 24, 15)
    assert due.tzinfo is UTC


def test_parsed_2wd_through_advance(cn: BusinessCalendar) -> None:
    d = parse_duration("2wd", cn.working_day_seconds)
    assert advance(cn, d.business, at(2026, 11, 20, 15), d.seconds) == at(2026, 11, 24, 15)


def test_two_working_days_into_spring_festival_lands_on_make_up_saturday(
    cn: BusinessCalendar,
) -> None:
    # Thu 15:00 -> 3 h Thu, 9 h Fri, 6 h on the make-up Saturday.
    assert cn.add_business_seconds(at(2026, 2, 12, 15), 2 * WD) == at(2026, 2, 14, 15)


def test_one_working_day_lands_on_make_up_saturday(cn: BusinessCalendar) -> None:
    assert cn.add_business_seconds(at(2026, 2, 13, 15), WD) == at(2026, 2, 14, 15)


def test_two_working_days_across_spring_festival(cn: BusinessCalendar) -> None:
    # Fri 3 h, make-up Sat 9 h, then 02-15..02-23 off, Tue 02-24 6 h.
    assert cn.add_business_seconds(at(2026, 2, 13, 15), 2 * WD) == at(2026, 2, 24, 15)


def test_seven_working_days_across_national_day(cn: BusinessCalendar) -> None:
    # 09-30 Wed is worked; 10-01..10-07 off; 10-08, 10-09, 10-10 (make-up Sat) worked;
    # 10-11 Sunday off; then Mon 10-12 .. Wed 10-14.
    assert cn.add_business_seconds(at(2026, 9, 30, 9), 7 * WD) == at(2026, 10, 14, 18)


def test_budget_ending_at_work_end_returns_work_end(cn: BusinessCalendar) -> None:
    assert cn.add_business_seconds(at(2026, 11, 23, 9), WD) == at(2026, 11, 23, 18)
    assert cn.add_business_seconds(at(2026, 11, 23, 15), 3 * HOUR) == at(2026, 11, 23, 18)
    # Across the festival: ends on the make-up Saturday's close, not on 02-24 09:00.
    assert cn.add_business_seconds(at(2026, 2, 13, 9), 2 * WD) == at(2026, 2, 14, 18)
    # Friday close, not Monday morning.
    assert cn.add_business_seconds(at(2026, 11, 19, 9), 2 * WD) == at(2026, 11, 20, 18)


def test_start_outside_working_hours(cn: BusinessCalendar) -> None:
    assert cn.add_business_seconds(at(2026, 11, 23, 22), HOUR) == at(2026, 11, 24, 10)
    assert cn.add_business_seconds(at(2026, 11, 23, 6), HOUR) == at(2026, 11, 23, 10)
    assert cn.add_business_seconds(at(2026, 11, 23, 18), 1) == at(2026, 11, 24, 9, 0, 1)
    # Saturday noon: counting starts Monday 09:00.
    assert cn.add_business_seconds(at(2026, 11, 21, 12), HOUR) == at(2026, 11, 23, 10)
    # Sunday night before a Monday.
    assert cn.add_business_seconds(at(2026, 11, 22, 23, 59), WD) == at(2026, 11, 23, 18)
    # Inside a holiday: National Day week, next working day is Thu 10-08.
    assert cn.add_business_seconds(at(2026, 10, 1, 10), HOUR) == at(2026, 10, 8, 10)


def test_zero_budget_returns_start_even_outside_hours(cn: BusinessCalendar) -> None:
    start = at(2026, 11, 21, 3, 30)
    assert cn.add_business_seconds(start, 0) == start
    assert advance(cn, True, start, 0) == start


def test_start_given_in_another_zone(cn: BusinessCalendar) -> None:
    # 07:00 UTC is 15:00 in Shanghai.
    start = datetime(2026, 11, 20, 7, tzinfo=UTC)
    assert cn.add_business_seconds(start, 2 * WD) == datetime(2026, 11, 24, 7, tzinfo=UTC)


def test_sub_second_budget(cn: BusinessCalendar) -> None:
    due = cn.add_business_seconds(at(2026, 11, 23, 17, 59, 59), 1.5)
    assert due == at(2026, 11, 24, 9, 0, 0, 500000)


# --- counting working time ---------------------------------------------------------------------


def test_business_seconds_over_national_day_week(cn: BusinessCalendar) -> None:
    # 09-30 and 10-08, 10-09 are worked; 10-01..10-07 are off.
    assert cn.business_seconds_between(at(2026, 9, 30, 9), at(2026, 10, 9, 18)) == 3 * WD
    # The make-up Saturday 10-10 counts.
    assert cn.business_seconds_between(at(2026, 9, 30, 9), at(2026, 10, 10, 18)) == 4 * WD
    # Entirely inside the holiday: nothing.
    assert cn.business_seconds_between(at(2026, 10, 1), at(2026, 10, 7, 23, 59)) == 0


def test_business_seconds_over_spring_festival(cn: BusinessCalendar) -> None:
    assert cn.business_seconds_between(at(2026, 2, 13, 18), at(2026, 2, 24, 9)) == WD
    assert cn.business_seconds_between(at(2026, 2, 14, 18), at(2026, 2, 24, 9)) == 0


def test_business_seconds_partial_days(cn: BusinessCalendar) -> None:
    assert cn.business_seconds_between(at(2026, 11, 23, 10, 30), at(2026, 11, 23, 12, 15)) == 6300
    assert cn.business_seconds_between(at(2026, 11, 23, 7), at(2026, 11, 23, 9, 30)) == 1800
    assert cn.business_seconds_between(at(2026, 11, 23, 17), at(2026, 11, 24, 10)) == 2 * HOUR
    assert cn.business_seconds_between(at(2026, 11, 20, 17), at(2026, 11, 23, 10)) == 2 * HOUR


def test_business_seconds_is_zero_when_b_not_after_a(cn: BusinessCalendar) -> None:
    assert cn.business_seconds_between(at(2026, 11, 23, 12), at(2026, 11, 23, 12)) == 0
    assert cn.business_seconds_between(at(2026, 11, 23, 12), at(2026, 11, 23, 10)) == 0


def test_business_seconds_over_a_year(cn: BusinessCalendar) -> None:
    working_days = sum(
        cn.is_working_day(date(2026, 1, 1) + timedelta(days=i)) for i in range(365)
    )
    total = cn.business_seconds_between(at(2026, 1, 1), at(2027, 1, 1))
    assert total == working_days * WD
    # 365 days - 104 weekend days - 19 weekday holidays + 6 make-up weekend days.
    assert working_days == 248


def test_round_trip_random_starts(cn: BusinessCalendar) -> None:
    rng = random.Random(20260214)
    span = (datetime(2027, 12, 1, tzinfo=UTC) - datetime(2025, 1, 1, tzinfo=UTC)).total_seconds()
    for _ in range(600):
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.uniform(0, span), microseconds=rng.randrange(1_000_000)
        )
        seconds = round(rng.uniform(0.001, 12 * WD), 3)
        for business in (True, False):
            due = advance(cn, business, start, seconds)
            assert elapsed(cn, business, start, due) == seconds
        due = cn.add_business_seconds(start, seconds)
        # Earliest such instant: one microsecond earlier the budget is not yet used up.
        assert cn.business_seconds_between(start, due - timedelta(microseconds=1)) < seconds
        assert cn.is_working_day(due.astimezone(SH).date())
        assert time(9) < due.astimezone(SH).time() <= time(18)


# --- wall-clock helpers ------------------------------------------------------------------------


def test_wall_clock_advance_and_elapsed(cn: BusinessCalendar) -> None:
    start = at(2026, 2, 14, 22)
    assert advance(cn, False, start, HOUR) == at(2026, 2, 14, 23)
    assert advance(cn, False, start, HOUR).tzinfo is UTC
    assert elapsed(cn, False, start, at(2026, 2, 15, 22)) == 86400
    assert elapsed(cn, False, at(2026, 2, 15), at(2026, 2, 14)) == 0


def test_naive_datetimes_are_rejected(cn: BusinessCalendar) -> None:
    naive = datetime(2026, 11, 20, 15)
    with pytest.raises(ValueError, match="timezone-aware"):
        cn.business_seconds_between(naive, at(2026, 11, 21))
    with pytest.raises(ValueError, match="timezone-aware"):
        cn.add_business_seconds(naive, HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        elapsed(cn, False, at(2026, 11, 20), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        advance(cn, False, naive, HOUR)


def test_negative_budget_is_rejected(cn: BusinessCalendar) -> None:
    with pytest.raises(ValueError):
        cn.add_business_seconds(at(2026, 11, 20, 15), -1)
    with pytest.raises(ValueError):
        advance(cn, False, at(2026, 11, 20, 15), -1)


# --- settings ----------------------------------------------------------------------------------


def test_extra_holidays_and_workdays() -> None:
    settings = CalendarSettings(
        extra_holidays=[date(2026, 11, 23)],  # a Monday off
        extra_workdays=[date(2026, 10, 2), date(2026, 11, 22)],  # a holiday, a Sunday worked
    )
    cal = settings.resolve([2026])
    assert not cal.is_working_day(date(2026, 11, 23))
    assert cal.is_working_day(date(2026, 10, 2))
    assert date(2026, 10, 2) not in cal.holidays
    assert cal.is_working_day(date(2026, 11, 22))
    # Fri 15:00 + 2wd: Fri 3 h, Sun 9 h, Mon off, Tue 6 h.
    assert cal.add_business_seconds(at(2026, 11, 20, 15), 2 * WD) == at(2026, 11, 24, 15)


def test_no_public_holidays() -> None:
    for country in (None, ""):
        cal = CalendarSettings(holidays_country=country).resolve([2026])
        assert cal.holidays == [] and cal.workdays == []
        assert cal.is_working_day(date(2026, 10, 1))  # a Thursday
        assert not cal.is_working_day(date(2026, 2, 14))  # a Saturday


def test_country_without_make_up_days() -> None:
    cal = CalendarSettings(timezone="America/New_York", holidays_country="US").resolve([2026])
    assert cal.workdays == []
    assert date(2026, 7, 3) in cal.holidays  # Independence Day observed
    ny = ZoneInfo("America/New_York")
    # Thu 07-02 17:00 + 2 bh: 1 h Thu, Fri holiday, weekend, Mon 07-06 10:00.
    due = cal.add_business_seconds(datetime(2026, 7, 2, 17, tzinfo=ny), 2 * HOUR)
    assert due == datetime(2026, 7, 6, 10, tzinfo=ny)


def test_custom_hours_and_weekend() -> None:
    cal = CalendarSettings(
        work_start=time(8, 30), work_end=time(12), weekend=[6], holidays_country=None
    ).resolve([2026])
    assert cal.working_day_seconds == 3.5 * HOUR
    # Sat 11:00 + 2 h: 1 h Sat, Sunday off, Mon 08:30 + 1 h.
    assert cal.add_business_seconds(at(2026, 11, 21, 11), 2 * HOUR) == at(2026, 11, 23, 9, 30)


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"work_start": time(18), "work_end": time(9)}, "before work_end"),
        ({"work_start": time(9), "work_end": time(9)}, "before work_end"),
        ({"weekend": [5, 7]}, "weekend"),
        ({"weekend": [0, 1, 2, 3, 4, 5, 6]}, "seven"),
        ({"holidays_country": "XX"}, "holidays country"),
        (
            {"extra_holidays": [date(2026, 5, 6)], "extra_workdays": [date(2026, 5, 6)]},
            "both",
        ),
    ],
)
def test_invalid_settings(fields: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        CalendarSettings.model_validate(fields)
