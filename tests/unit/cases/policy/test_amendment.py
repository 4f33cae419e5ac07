"""Policy amendments, pure: which clocks move, by how much, what is recorded, and what is refused.

Cases open on Monday 2026-12-28 at 10:00 in Shanghai, on a calendar of the test's own: no
country's public holidays, only the days listed in `CALENDAR` (National Day 2025 and New Year's
Day 2027), so no instant depends on what the installed `holidays` package knows of 2027.
Closure is 7 working days (63 h of 09:00-18:00); 1 January is the only day off in early
January, so closure is due on Thursday 7 January at 10:00 (8 h on Monday, 27 h Tue-Thu, 27 h on
4-6 January, 1 h on the 7th). Every expected instant is worked out by hand like that, in the
comments.
"""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import pytest

from cases.clocks import sla
from cases.clocks.calendar import BusinessCalendar, CalendarSettings
from cases.clocks.durations import parse_duration
from cases.core.machine import CaseMachine
from cases.core.moves import InvalidAction
from cases.models import Acknowledge, ClockName, ClockState, CustomerReply, RequestInfo, Tier, Withdraw
from cases.policy import amendment as amendment_module
from cases.policy.amendment import (
    MAX_AMENDMENT_BYTES,
    AmendmentInputError,
    PolicyAmendment,
    amendment_id,
    merge_calendar,
    parse_amendment,
)
from cases.policy.snapshot import Policy
from cases.views.webhook_events import public_data
from tests.support.machine import CL, FR, HOUR, IH, RES, WORKING_DAY, general, shanghai

OPENED = shanghai(2026, 12, 28, 10)
CALENDAR = CalendarSettings(holidays_country="", extra_holidays=[date(2025, 10, 1), date(2027, 1, 1)])
YEARS = range(2026, 2029)


@pytest.fixture(scope="module")
def policy(policy: Policy) -> Policy:
    """The shipped policy on `CALENDAR`: its targets and hours, none of the package's dates."""
    return policy.model_copy(update={"calendar": CALENDAR})


def calendar(
    policy: Policy, holidays: tuple[date, ...] = (), workdays: tuple[date, ...] = (), **rules: object
) -> BusinessCalendar:
    """The policy's calendar with days added, resolved for 2026-2028 as `aftersales amend` does
    (the policy's own extra days of other years are not among them)."""
    base = policy.calendar
    settings = base.model_copy(
        update={
            "extra_holidays": [d for d in base.extra_holidays if d.year in YEARS] + list(holidays),
            "extra_workdays": [d for d in base.extra_workdays if d.year in YEARS] + list(workdays),
        }
        | rules
    )
    return settings.resolve(YEARS)


def amendment(policy: Policy, holidays: tuple[date, ...] = (), workdays: tuple[date, ...] = (),
              **targets: str) -> PolicyAmendment:
    tiers = {Tier.GENERAL: {ClockName(k): parse_duration(v, WORKING_DAY) for k, v in targets.items()}}
    return PolicyAmendment(calendar=calendar(policy, holidays, workdays), targets=tiers if targets else None)


def raw(value: object) -> bytes:
    return json.dumps(value).encode()


def case(policy: Policy) -> CaseMachine:
    m = general(policy, OPENED)
    m.events.clear()
    return m


def test_the_announced_days_move_the_closure_due_and_its_warning(policy: Policy) -> None:
    m = case(policy)
    assert m.state.clocks[CL].due_at == shanghai(2027, 1, 7, 10)
    at = shanghai(2026, 12, 28, 11)
    # 4 and 5 January off, Saturday 9 January worked: Wed 6-Fri 8 give 27 h of the 28 h left
    # after Thursday, and the last hour is Saturday's first. The warning (50.4 h) is 15.4 h
    # into the new year: Wed 6 and 6.4 h of Thu 7, at 15:24.
    answer = m.amend(amendment(policy, (date(2027, 1, 4), date(2027, 1, 5)), (date(2027, 1, 9),)), at)
    assert (answer.outcome, answer.clocks) == ("changed", [CL])
    clock = m.state.clocks[CL]
    assert (clock.due_at, clock.warn_at) == (shanghai(2027, 1, 9, 10), shanghai(2027, 1, 7, 15, 24))
    assert clock.consumed_seconds == 3600.0 and clock.running_since == at
    [event] = m.events
    assert event.type == "amended" and event.at == at and event.actor == "system"
    assert event.data["clocks"] == [{
        "clock": "closure",
        "old_due_at": "2027-01-07T02:00:00+00:00",
        "new_due_at": "2027-01-09T02:00:00+00:00",
        "old_warn_at": "2027-01-05T07:24:00+00:00",
        "new_warn_at": "2027-01-07T07:24:00+00:00",
        "old_target": "7wd",
        "new_target": "7wd",
    }]
    assert event.data["holidays_added"] == ["2027-01-04", "2027-01-05"]
    assert event.data["workdays_added"] == ["2027-01-09"]
    assert event.data["holidays_removed"] == event.data["workdays_removed"] == []
    assert m.policy.calendar.is_working_day(date(2027, 1, 9))
    # The wall-clock clocks did not move: their seconds are the same on every calendar.
    for name, hours in ((FR, 24), (IH, 48), (RES, 72)):
        assert m.state.clocks[name].due_at == OPENED + timedelta(hours=hours)


def test_time_counted_before_the_amendment_stays_counted(policy: Policy) -> None:
    m = case(policy)
    at = shanghai(2027, 1, 6, 12)
    m.fire_due(at)  # first response, handling and resolution breached; closure warned
    m.events.clear()
    # 4 January becomes a holiday after it was worked, 7 January before it comes. By Wednesday
    # noon closure counted 8 + 27 + 18 + 3 = 56 h on the calendar then in force; of the 7 h
    # left, 6 h run to Wednesday 18:00, Thursday is off, and the last hour ends Fri 8 at 10:00.
    # (Counted afresh on the new calendar from the opening it would end Mon 11 at 10:00.)
    answer = m.amend(amendment(policy, (date(2027, 1, 4), date(2027, 1, 7))), at)
    assert answer.clocks == [CL]
    clock = m.state.clocks[CL]
    assert clock.due_at == shanghai(2027, 1, 8, 10)
    assert clock.warn_at is None and clock.state == ClockState.WARNED
    for name in (FR, IH, RES):  # breached clocks keep their breach and their record
        assert m.state.clocks[name].state == ClockState.BREACHED
        assert m.state.clocks[name].due_at is None


def test_a_paused_clock_stays_paused_and_resumes_on_the_new_calendar(policy: Policy) -> None:
    m = case(policy)
    m.apply("request_info", RequestInfo(actor="agent-1", question="photo?"), shanghai(2026, 12, 28, 12))
    paused = m.state.clocks[CL].model_copy()
    m.events.clear()
    answer = m.amend(amendment(policy, (date(2027, 1, 4),)), shanghai(2026, 12, 29, 9))
    # Closure is paused, first response was met by the question: no clock has a due to move.
    assert (answer.outcome, answer.clocks) == ("changed", [])
    [event] = m.events
    assert event.data["clocks"] == [] and event.data["holidays_added"] == ["2027-01-04"]
    clock = m.state.clocks[CL]
    assert clock == paused and clock.state == ClockState.PAUSED and clock.due_at is None
    # 2 h counted on Monday; resumed Tue 29 at 09:00, 61 h are left: Tue-Thu 27 h, Jan 4 is now
    # off, Tue 5-Thu 7 27 h, and 7 h of Fri 8: 16:00.
    m.apply("customer_reply", CustomerReply(text="here"), shanghai(2026, 12, 29, 9))
    assert m.state.clocks[CL].due_at == shanghai(2027, 1, 8, 16)


def test_new_targets_retarget_open_clocks_and_leave_met_ones(policy: Policy) -> None:
    m = case(policy)
    m.apply("acknowledge", Acknowledge(actor="agent-1"), shanghai(2026, 12, 28, 10, 30))
    m.events.clear()
    met = m.state.clocks[FR].model_copy()
    # Closure 8wd is 72 h: 9 h more than 7wd, so the due moves from Thu 7 at 10:00 to Fri 8.
    answer = m.amend(amendment(policy, first_response="1h", closure="8wd"), shanghai(2026, 12, 28, 11))
    assert (answer.outcome, answer.clocks) == ("changed", [CL])
    assert m.state.clocks[FR] == met
    assert m.state.clocks[CL].due_at == shanghai(2027, 1, 8, 10)
    assert m.state.clocks[CL].target_label == "8wd"
    assert m.policy.targets[Tier.GENERAL][FR].label == "1h"
    assert m.policy.targets[Tier.URGENT][CL].label == "7wd"  # tiers not named keep theirs
    [event] = m.events
    assert event.data["targets_amended"] is True
    assert event.data["clocks"][0]["old_target"] == "7wd" and event.data["clocks"][0]["new_target"] == "8wd"


def test_the_same_amendment_twice_and_an_equal_calendar_change_nothing(policy: Policy) -> None:
    m = case(policy)
    announced = amendment(policy, (date(2027, 1, 4),))
    assert m.amend(announced, shanghai(2026, 12, 28, 11)).outcome == "changed"
    state, snapshot = m.state.model_copy(deep=True), m.policy
    m.events.clear()
    again = m.amend(announced, shanghai(2026, 12, 28, 15))
    assert (again.outcome, again.amendment_id, again.clocks) == ("unchanged", announced.id, [])
    assert m.events == [] and m.state == state and m.policy is snapshot

    fresh = case(policy)
    before = fresh.state.model_copy(deep=True)
    assert fresh.amend(amendment(policy), shanghai(2026, 12, 28, 11)).outcome == "unchanged"
    assert fresh.events == [] and fresh.state == before


def test_a_finished_case_and_a_calendar_without_working_time_are_refused(policy: Policy) -> None:
    m = case(policy)
    m.apply("withdraw", Withdraw(reason="resolved elsewhere"), shanghai(2026, 12, 28, 11))
    with pytest.raises(InvalidAction, match="withdrawn"):
        m.check_amendment(amendment(policy), shanghai(2026, 12, 28, 12))

    open_one = case(policy)
    days = tuple(date(2026, 12, 28).fromordinal(date(2026, 12, 28).toordinal() + i) for i in range(4000))
    idle = PolicyAmendment(calendar=calendar(policy, days))
    before = open_one.state.model_copy(deep=True)
    with pytest.raises(InvalidAction, match="no working day"):
        open_one.amend(idle, shanghai(2026, 12, 28, 11))
    assert open_one.state == before and open_one.events == []


def test_years_the_amendment_does_not_cover_keep_the_snapshot_dates(policy: Policy) -> None:
    snapshot = case(policy).policy.calendar
    assert snapshot.years == [2025, 2026, 2027, 2028]
    assert snapshot.holidays == [date(2025, 10, 1), date(2027, 1, 1)]  # the test's, not the package's
    amended = calendar(policy, (date(2027, 1, 4),))
    merged = merge_calendar(snapshot, amended)
    assert merged.years == [2025, 2026, 2027, 2028]
    assert date(2025, 10, 1) not in amended.holidays
    assert date(2025, 10, 1) in merged.holidays  # National Day 2025, from the snapshot
    assert not merged.is_working_day(date(2027, 1, 4)) and not merged.is_working_day(date(2025, 10, 1))
    assert merge_calendar(snapshot, merge_calendar(snapshot, amended)) == merged


def test_the_id_is_the_content_hash_and_a_wrong_one_is_refused(policy: Policy) -> None:
    one, two = amendment(policy, (date(2027, 1, 4),)), amendment(policy, (date(2027, 1, 4),))
    assert one.id == two.id == amendment_id(one.calendar, None)
    assert one.id != amendment(policy, (date(2027, 1, 5),)).id
    assert one.id != amendment(policy, (date(2027, 1, 4),), closure="8wd").id
    sent = PolicyAmendment.model_validate_json(one.model_dump_json())
    assert sent == one
    wrong = one.model_dump(mode="json") | {"id": "0" * 16}
    with pytest.raises(AmendmentInputError, match="id: does not match the amendment's content") as err:
        parse_amendment(raw(wrong))
    assert one.id in str(err.value)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "amend: the payload must be a JSON object"),
        (b"[1, 2]", "amend: the payload must be a JSON object"),
        (b"{}", "amend.calendar: Field required"),
        (b'{"calendar": {"timezone": "Mars/Olympus"}}', "amend.calendar.timezone"),
        (b'{"calendar": 1, "colour": "red"}', "amend.calendar"),
        (b"x" * (MAX_AMENDMENT_BYTES + 1), "amend: the payload is 262,145 bytes, over the 262,144"),
    ],
)
def test_malformed_payloads_are_refused_naming_the_field(payload: bytes | None, message: str) -> None:
    with pytest.raises(AmendmentInputError) as err:
        parse_amendment(payload)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_targets_may_name_only_tier_clocks_with_sane_durations(policy: Policy) -> None:
    good = amendment(policy, closure="8wd").model_dump(mode="json")
    approval = good | {"targets": {"general": {"approval": good["targets"]["general"]["closure"]}}}
    with pytest.raises(AmendmentInputError, match="targets.general.approval: not a tier target"):
        parse_amendment(raw(approval))
    negative = good | {"targets": {"general": {"closure": {"seconds": -1, "business": True, "label": "-1wd"}}}}
    with pytest.raises(AmendmentInputError, match="targets.general.closure: must be above zero"):
        parse_amendment(raw(negative))


def test_the_webhook_carries_the_rules_and_instants_of_an_amendment(policy: Policy) -> None:
    m = case(policy)
    m.amend(amendment(policy, (date(2027, 1, 4),)), shanghai(2026, 12, 28, 11))
    [event] = m.events
    assert public_data(event) == event.data  # nothing in it is about a person


@pytest.mark.parametrize("length", [timedelta(microseconds=1), timedelta(seconds=1), timedelta(minutes=59)])
def test_a_working_day_under_an_hour_is_refused_naming_work_end(policy: Policy, length: timedelta) -> None:
    # Counting 63 h in days of a second walks the calendar past the year 9999: seconds of work
    # (the workflow task would time out) ending in OverflowError. It is refused before that.
    end = (shanghai(2026, 1, 1, 9) + length).time()
    payload = amendment(policy).model_dump(mode="json")
    payload["calendar"]["work_end"] = end.isoformat()
    del payload["id"]
    with pytest.raises(AmendmentInputError) as err:
        parse_amendment(raw(payload))
    assert str(err.value).startswith("amend.calendar.work_end: the working day must be at least 1 hour")
    assert "\n" not in str(err.value)


def test_a_calendar_that_overflows_is_refused_and_changes_nothing(
    policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = case(policy)
    before = m.state.model_copy(deep=True)

    def off_the_calendar(*args: object) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(amendment_module.sla, "carry_over", off_the_calendar)
    announced = amendment(policy, (date(2027, 1, 4),))
    with pytest.raises(InvalidAction, match="amend: date value out of range"):
        m.check_amendment(announced, shanghai(2026, 12, 28, 11))
    with pytest.raises(InvalidAction, match="amend: date value out of range"):
        m.amend(announced, shanghai(2026, 12, 28, 11))
    assert m.state == before and m.events == []


def test_a_breached_clock_keeps_its_past_as_counted_and_counts_on_from_the_amendment(policy: Policy) -> None:
    m = case(policy)
    at = shanghai(2027, 1, 8, 12)
    m.fire_due(at)
    clock = m.state.clocks[CL]
    assert clock.breached_at == shanghai(2027, 1, 7, 10)
    # By Friday noon closure counted 63 h to its breach, 8 h more on Thursday and 3 h on Friday.
    counted = (63 + 8 + 3) * HOUR.total_seconds()
    assert sla.elapsed_now(clock, at, m.policy.calendar) == counted
    m.events.clear()
    # 4 and 5 January, already worked, become days off, and Friday afternoon is still worked.
    answer = m.amend(amendment(policy, (date(2027, 1, 4), date(2027, 1, 5))), at)
    assert (answer.outcome, answer.clocks) == ("changed", [])
    clock = m.state.clocks[CL]
    assert (clock.consumed_seconds, clock.running_since) == (counted, at)
    assert (clock.breached_at, clock.due_at, clock.state) == (shanghai(2027, 1, 7, 10), None, ClockState.BREACHED)
    # Re-counted from the opening on the amended calendar it would be 18 h less.
    later = shanghai(2027, 1, 8, 13)
    assert sla.elapsed_now(clock, later, m.policy.calendar) == counted + HOUR.total_seconds()
    m.apply("withdraw", Withdraw(reason="resolved elsewhere"), later)
    assert m.state.clocks[CL].consumed_seconds == counted + HOUR.total_seconds()


def test_other_working_hours_are_refused_but_the_same_day_may_move(policy: Policy) -> None:
    m = case(policy)
    before = m.state.model_copy(deep=True)
    # 7wd was converted to 63 h with the 9-hour day; an 8-hour day would leave it 63 h.
    shorter = PolicyAmendment(calendar=calendar(policy, work_end=time(17, 0)))
    with pytest.raises(InvalidAction) as err:
        m.check_amendment(shorter, shanghai(2026, 12, 28, 11))
    message = str(err.value)
    assert "calendar.work_start" in message and "calendar.work_end" in message
    assert "working hours cannot change under running cases" in message and "\n" not in message
    with pytest.raises(InvalidAction, match="working hours cannot change"):
        m.amend(shorter, shanghai(2026, 12, 28, 11))
    assert m.state == before and m.events == []
    # 10:00-19:00 is still 9 h: closure counted 1 h on Monday (10:00-11:00), and the 62 h left
    # run from 11:00: 8 h on Monday, 27 h Tue-Thu, 27 h on 4-6 January, due at 19:00 on the 6th.
    later = PolicyAmendment(calendar=calendar(policy, work_start=time(10, 0), work_end=time(19, 0)))
    assert m.amend(later, shanghai(2026, 12, 28, 11)).clocks == [CL]
    assert m.state.clocks[CL].due_at == shanghai(2027, 1, 6, 19)
    assert m.events[0].data["rules"] == ["work_start", "work_end"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"seconds": 3600, "business": False, "label": "call Li Wei at once"}, "bad duration"),
        ({"seconds": 3600, "business": False, "label": "2h"}, "label '2h' is 7200 wall-clock seconds"),
        ({"seconds": 3600, "business": False, "label": "1bh"}, "label '1bh' is 3600 business seconds"),
        ({"seconds": 226800, "business": True, "label": "8wd"}, "label '8wd' is 259200 business"),
    ],
)
def test_a_target_label_must_say_what_its_seconds_count(policy: Policy, target: dict, message: str) -> None:  # type: ignore[type-arg]
    payload = amendment(policy, closure="7wd").model_dump(mode="json")
    payload["targets"]["general"]["closure"] = target
    del payload["id"]
    with pytest.raises(AmendmentInputError) as err:
        parse_amendment(raw(payload))
    assert str(err.value).startswith("amend.targets.general.closure: ") and message in str(err.value)
    good = payload | {"targets": {"general": {"closure": {"seconds": 226800, "business": True, "label": "7wd"}}}}
    assert parse_amendment(raw(good)).targets == {Tier.GENERAL: {CL: parse_duration("7wd", WORKING_DAY)}}


def test_the_merchants_answer_clock_is_amended_like_any_other(policy: Policy) -> None:
    # A platform that gives merchants two working days to answer: announced days off move it.
    platform = policy.platform.model_copy(update={"answer_within": "2wd"})
    working = policy.model_copy(update={"platform": platform})
    m = general(working, OPENED, request={"remedy": "refund_only", "reason": "not_received"})
    answer = m.state.clocks[ClockName.MERCHANT_ANSWER]
    assert answer.due_at == shanghai(2026, 12, 30, 10)  # Mon 28 10:00 + 18 working hours
    outcome = m.amend(amendment(working, (date(2026, 12, 29),)), shanghai(2026, 12, 28, 11))
    assert ClockName.MERCHANT_ANSWER in outcome.clocks
    assert m.state.clocks[ClockName.MERCHANT_ANSWER].due_at == shanghai(2026, 12, 31, 10)
