"""Policy amendments on the time-skipping server: a 2027 calendar announced after the case opened.

Cases open on Monday 2026-12-28 at 10:00 in Shanghai under the shipped policy, whose 2027
calendar (from the `holidays` package) has 1 January off and no make-up working days yet. Every
expected instant below is worked out by hand from the working hours (09:00-18:00, 9 h a day),
never by the engine's calendar code. The first test runs until the real date passes 2026-12-28;
`test_amendment_any_date.py` repeats it on dates taken from the server's clock, so it runs on any
date and whatever the installed `holidays` package knows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.memory import MemoryProjection
from cases.clocks.calendar import BusinessCalendar
from cases.clocks.durations import parse_duration
from cases.models import CaseState, ClockName, Tier
from cases.policy.amendment import PolicyAmendment
from cases.policy.snapshot import Policy
from starter.client import CaseClient
from starter.replay import replay_histories
from tests.conftest import memory_worker
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.lifecycle_helpers import advance_to
from workflows.run_input import CaseInput, CaseRun

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN_AT = datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI)
CL, FR = ClockName.CLOSURE, ClockName.FIRST_RESPONSE
# The case opens a moment after OPEN_AT (the time the server takes); every instant that counts
# from the opening moves by the same amount, as long as it stays inside Monday's working hours.
MOST_LAG = timedelta(minutes=5)
# Small enough that a few notes after the amendment make the case continue as new.
HISTORY_LIMIT = 40


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def amended_calendar(
    policy: Policy, holidays: tuple[date, ...] = (), workdays: tuple[date, ...] = ()
) -> BusinessCalendar:
    """The policy's calendar with the announced days added, resolved as `aftersales amend` does."""
    settings = policy.calendar.model_copy(
        update={"extra_holidays": list(holidays), "extra_workdays": list(workdays)}
    )
    return settings.resolve(range(2026, 2029))


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_an_announced_2027_calendar_moves_running_clocks_exactly(env, policy) -> None:  # type: ignore[no-untyped-def]
    if await env.get_current_time() >= OPEN_AT:
        pytest.skip("the test server's clock starts at real time, which is already past 2026-12-28")
    await advance_to(env, OPEN_AT)
    projection = MemoryProjection()
    async with memory_worker(env.client, policy, projection=projection) as task_queue:
        client = CaseClient(env.client, task_queue, policy)
        a, b, c = intake(), intake(), intake()
        for case in (a, b, c):
            await client.open(case)
        opened = {case.case_id: (await client.state(case.case_id)).opened_at for case in (a, b, c)}
        lag = {k: v - OPEN_AT for k, v in opened.items()}
        assert all(timedelta(0) <= d < MOST_LAG for d in lag.values()), lag

        # Before: 7 working days are 63 h. Monday from 10:00 gives 8 h, Tue-Thu 27 h (55 h down,
        # 28 h left), Fri 1 Jan is New Year's Day, Sat and Sun are weekend, Mon 4-Wed 6 Jan 27 h,
        # and the last hour ends on Thu 7 Jan at 10:00. The warning (80 %: 50.4 h) comes after
        # 6.4 h of Tue 5 Jan, at 15:24.
        la = lag[a.case_id]
        state = await client.state(a.case_id)
        old_due, old_warn = at(date(2027, 1, 7), 10) + la, at(date(2027, 1, 5), 15, 24) + la
        assert state.clocks[CL].due_at == old_due and state.clocks[CL].warn_at == old_warn

        # The announcement: 4 and 5 January off as well, and Saturday 9 January worked (调休).
        # 28 h are left after Thursday; Wed 6-Fri 8 Jan give 27 h, the last hour is Saturday's
        # first: due Sat 9 Jan 10:00. The warning's 15.4 h: Wed 6 Jan (9 h) and 6.4 h of Thu.
        announced = PolicyAmendment(
            calendar=amended_calendar(policy, (date(2027, 1, 4), date(2027, 1, 5)), (date(2027, 1, 9),))
        )
        answer = await client.amend(a.case_id, announced)
        assert (answer.outcome, answer.clocks, answer.amendment_id) == ("changed", [CL], announced.id)
        new_due, new_warn = at(date(2027, 1, 9), 10) + la, at(date(2027, 1, 7), 15, 24) + la
        state = await client.state(a.case_id)
        assert state.clocks[CL].due_at == new_due and state.clocks[CL].warn_at == new_warn
        assert state.clocks[CL].consumed_seconds > 0  # the seconds Monday already counted

        [event] = [e for e in projection.trail(a.case_id) if e.type == "amended"]
        assert event.data["amendment_id"] == announced.id
        assert event.data["holidays_added"] == ["2027-01-04", "2027-01-05"]
        assert event.data["workdays_added"] == ["2027-01-09"]
        [moved] = event.data["clocks"]
        assert moved["clock"] == "closure"
        assert (instant(moved["old_due_at"]), instant(moved["new_due_at"])) == (old_due, new_due)
        assert (instant(moved["old_warn_at"]), instant(moved["new_warn_at"])) == (old_warn, new_warn)

        # The same amendment again: nothing changes and nothing is recorded.
        seq = state.last_seq
        again = await client.amend(a.case_id, announced)
        assert (again.outcome, again.clocks) == ("unchanged", [])
        assert (await client.state(a.case_id)).last_seq == seq
        assert [e.type for e in projection.trail(a.case_id)].count("amended") == 1

        # A malformed payload from a caller that skips the client names the field.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await client.handle(a.case_id).execute_update("amend", {"calendar": {"timezone": "Mars/Olympus"}})
        assert "amend.calendar.timezone" in str(refused.value.cause)

        # An earlier due gets its timer: C's first response tightened from 24 h to 1 h is due at
        # 11:00, long before the timer the case had armed (the 24 h clock's warning, tomorrow).
        lc = lag[c.case_id]
        tightened = PolicyAmendment(
            calendar=amended_calendar(policy),
            targets={Tier.GENERAL: {FR: parse_duration("1h", 9 * 3600.0)}},
        )
        answer = await client.amend(c.case_id, tightened)
        assert (answer.outcome, answer.clocks) == ("changed", [FR])
        await advance_to(env, at(date(2026, 12, 28), 11, 30))
        state = await eventually(lambda: client.state(c.case_id), lambda s: s.clocks[FR].breached_at is not None,
                                 "C's tightened first response to breach")
        assert state.clocks[FR].breached_at == at(date(2026, 12, 28), 11) + lc

        # A later due does not fire early: on Wed 6 Jan at 12:00 B's timer is armed for its
        # closure due on Thu 7 Jan 10:00. Thursday becomes a holiday: of 63 h, B counted 8 h on
        # Monday, 27 h Tue-Thu, 18 h on 4-5 Jan and 3 h on Wednesday (56 h); 6 h more on
        # Wednesday leave 1 h for Fri 8 Jan: due at 10:00.
        lb = lag[b.case_id]
        await advance_to(env, at(date(2027, 1, 6), 12))
        state = await client.state(b.case_id)
        assert state.clocks[CL].due_at == old_due - la + lb and state.clocks[CL].warned_at is not None
        answer = await client.amend(b.case_id, PolicyAmendment(calendar=amended_calendar(policy, (date(2027, 1, 7),))))
        assert (answer.outcome, answer.clocks) == ("changed", [CL])
        b_due = at(date(2027, 1, 8), 10) + lb
        moved_b = await client.state(b.case_id)
        # The seconds the update took to arrive after 12:00 are counted on both calendars alike.
        assert moved_b.clocks[CL].due_at == b_due

        await advance_to(env, at(date(2027, 1, 7), 10, 1))
        for case in (a, b):
            assert (await client.state(case.case_id)).clocks[CL].breached_at is None
        await advance_to(env, at(date(2027, 1, 9), 10, 1))

        def closure_breached(s: CaseState) -> bool:
            return s.clocks[CL].breached_at is not None

        final_a = await eventually(lambda: client.state(a.case_id), closure_breached, "A's closure breach")
        final_b = await eventually(lambda: client.state(b.case_id), closure_breached, "B's closure breach")
        assert final_a.clocks[CL].breached_at == new_due
        assert final_b.clocks[CL].breached_at == b_due

        histories = [await client.handle(case.case_id).fetch_history() for case in (a, b, c)]
    outcomes = await replay_histories(histories, env.client.data_converter)
    assert [(o.ok, o.error) for o in outcomes] == [(True, None)] * 3


async def test_an_amendment_survives_continue_as_new(env, policy) -> None:  # type: ignore[no-untyped-def]
    async with memory_worker(env.client, policy) as task_queue:
        client = CaseClient(env.client, task_queue, policy)
        case = intake()
        await client.open(case, run=CaseRun(history_limit=HISTORY_LIMIT))
        first = await client.state(case.case_id)
        assert first.runs == 1
        announced = PolicyAmendment(calendar=amended_calendar(policy, (date(2027, 1, 4),), (date(2027, 1, 9),)))
        assert (await client.amend(case.case_id, announced)).outcome == "changed"
        # Notes grow the history past the limit, and the case continues as new.
        for n in range(8):
            await client.act(case.case_id, "note", {"actor": "agent-1", "text": f"note {n}"})
            if (await client.state(case.case_id)).runs > 1:
                break
        await eventually(lambda: client.state(case.case_id), lambda s: s.runs > 1, "continue-as-new")
        history = await client.handle(case.case_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        assert started.continued_execution_run_id
        [carried] = await env.client.data_converter.decode(started.input.payloads, [CaseInput])
        assert carried.resume is not None and carried.resume.policy is not None
        assert date(2027, 1, 4) in carried.resume.policy.calendar.holidays
        assert date(2027, 1, 9) in carried.resume.policy.calendar.workdays
        # The continued run runs on the amended rules: the same amendment changes nothing there.
        assert (await client.amend(case.case_id, announced)).outcome == "unchanged"
