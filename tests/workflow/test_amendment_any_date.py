"""A policy amendment on the time-skipping server, on any date and any `holidays` release.

`test_amendment.py` opens its cases on Monday 2026-12-28 under the shipped policy, so it runs
only until that date and counts on what the installed package knows of 2027. This test repeats
its announcement relative to the server's own clock: the first Monday at least a week after the
server's time opens the case at 10:00 in Shanghai, on a calendar of the test's own (no
country's holidays, only the days listed). Day N is N days after that Monday. Before the
amendment only day 4, a Friday, is off; the amendment adds days 7 and 8 off and Saturday day 12
worked. Every expected instant is an offset worked out by hand from the 09:00-18:00 day (9 h):

- Closure (7 working days, 63 h) before: day 0 from 10:00 gives 8 h, days 1-3 27 h (35 h), day 4
  is off, days 5-6 are the weekend, days 7-9 give 27 h (62 h), and the last hour ends on day 10 at
  10:00. The warning (80 %: 50.4 h) comes 15.4 h after day 3: day 7 and 6.4 h of day 8, at 15:24.
- After: 28 h are left after day 3; days 7 and 8 are off, days 9-11 give 27 h and the last hour is
  the first of Saturday day 12: due at 10:00. The warning: day 9 and 6.4 h of day 10, at 15:24.

It has its own module, and so its own server: cases the other module leaves running would hold
this test's clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError

from activities.memory import MemoryProjection
from cases.clocks.calendar import CalendarSettings
from cases.models import ClockName
from cases.policy.amendment import PolicyAmendment
from starter.client import CaseClient
from starter.replay import replay_histories
from tests.conftest import memory_worker
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.lifecycle_helpers import advance_to

SHANGHAI = ZoneInfo("Asia/Shanghai")
CL = ClockName.CLOSURE
# The case opens a moment after 10:00 (the time the server takes); every instant that counts
# from the opening moves by the same amount, as long as it stays inside day 0's working hours.
MOST_LAG = timedelta(minutes=5)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def test_an_amendment_moves_running_clocks_exactly_on_any_date(env, policy) -> None:  # type: ignore[no-untyped-def]
    today = (await env.get_current_time()).astimezone(SHANGHAI).date()
    monday = today + timedelta(days=7)
    monday += timedelta(days=(7 - monday.weekday()) % 7)

    def day(n: int) -> date:
        return monday + timedelta(days=n)

    opening = at(day(0), 10)
    own = policy.model_copy(update={"calendar": CalendarSettings(holidays_country="", extra_holidays=[day(4)])})
    years = range(monday.year - 1, monday.year + 3)

    def amended(**changes: object) -> PolicyAmendment:
        settings = own.calendar.model_copy(update=changes)
        return PolicyAmendment(calendar=settings.resolve(years))

    await advance_to(env, opening)
    projection = MemoryProjection()
    async with memory_worker(env.client, own, projection=projection) as task_queue:
        client = CaseClient(env.client, task_queue, own)
        case = intake()
        await client.open(case)
        state = await client.state(case.case_id)
        lag = state.opened_at - opening
        assert timedelta(0) <= lag < MOST_LAG, lag
        assert state.clocks[CL].due_at == at(day(10), 10) + lag
        assert state.clocks[CL].warn_at == at(day(8), 15, 24) + lag

        # Refused by the validator, naming the field, and the case goes on: a working day of a
        # second (which would walk the calendar for years), one of 8 h (7wd was converted with
        # 9 h) and a target whose label says something else than its seconds.
        second = amended().calendar.model_dump(mode="json") | {"work_end": "09:00:01"}
        eight = amended().calendar.model_dump(mode="json") | {"work_end": "17:00:00"}
        labelled = {"calendar": amended().calendar.model_dump(mode="json"),
                    "targets": {"general": {"closure": {"seconds": 3600, "business": False, "label": "urgent"}}}}
        for payload, needle in (({"calendar": second}, "amend.calendar.work_end: the working day must be"),
                                ({"calendar": eight}, "working hours cannot change under running cases"),
                                (labelled, "amend.targets.general.closure: bad duration")):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await client.handle(case.case_id).execute_update("amend", payload)
            assert needle in str(refused.value.cause)
        assert (await client.state(case.case_id)).last_seq == state.last_seq

        announced = amended(extra_holidays=[day(4), day(7), day(8)], extra_workdays=[day(12)])
        answer = await client.amend(case.case_id, announced)
        assert (answer.outcome, answer.clocks, answer.amendment_id) == ("changed", [CL], announced.id)
        new_due, new_warn = at(day(12), 10) + lag, at(day(10), 15, 24) + lag
        state = await client.state(case.case_id)
        assert (state.clocks[CL].due_at, state.clocks[CL].warn_at) == (new_due, new_warn)

        [event] = [e for e in projection.trail(case.case_id) if e.type == "amended"]
        assert event.data["amendment_id"] == announced.id
        assert event.data["holidays_added"] == [day(7).isoformat(), day(8).isoformat()]
        assert event.data["workdays_added"] == [day(12).isoformat()]
        [moved] = event.data["clocks"]
        assert moved["clock"] == "closure"
        assert (instant(moved["old_due_at"]), instant(moved["new_due_at"])) == (at(day(10), 10) + lag, new_due)
        assert (instant(moved["old_warn_at"]), instant(moved["new_warn_at"])) == (at(day(8), 15, 24) + lag, new_warn)

        again = await client.amend(case.case_id, announced)
        assert (again.outcome, again.clocks) == ("unchanged", [])
        assert (await client.state(case.case_id)).last_seq == state.last_seq

        await advance_to(env, at(day(10), 10, 1))
        assert (await client.state(case.case_id)).clocks[CL].breached_at is None
        await advance_to(env, at(day(12), 10, 1))
        final = await eventually(lambda: client.state(case.case_id), lambda s: s.clocks[CL].breached_at is not None,
                                 "the closure breach at the amended due")
        assert final.clocks[CL].breached_at == new_due
        history = await client.handle(case.case_id).fetch_history()
    [outcome] = await replay_histories([history], env.client.data_converter)
    assert (outcome.ok, outcome.error) == (True, None)
