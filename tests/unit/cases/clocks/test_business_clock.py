"""The working-day closure clock (S1.2 closure in 7 working days, S1.6 business calendar):
counted only 09:00-18:00 Shanghai time on working days, so nights, weekends and public holidays
do not count and make-up Saturdays (调休) do; a pause takes only the working time out.
"""

from __future__ import annotations

from cases.clocks import sla
from cases.models import ClockState, CustomerReply, RequestInfo
from tests.support.machine import CL, US, WORKING_DAY, general, shanghai, since

# Friday 13 February 2026, 19:00: after hours, on the eve of the Spring Festival. Saturday 14
# and Saturday 28 February are make-up working days; 15-23 February are off.
FESTIVAL_EVE = shanghai(2026, 2, 13, 19)


def test_closure_from_a_friday_evening_skips_night_holidays_and_weekend(policy) -> None:
    m = general(policy, at=FESTIVAL_EVE)
    cl = m.state.clocks[CL]
    assert (cl.target_seconds, cl.business, cl.target_label) == (7 * WORKING_DAY, True, "7wd")
    # Sat 14, Tue 24 .. Fri 27, Sat 28, Mon 2 March: the seventh working day ends at 18:00.
    assert cl.due_at == shanghai(2026, 3, 2, 18)
    # 80 % is 50.4 working hours: 5 days and 5.4 h into the sixth, Saturday 28 February.
    assert cl.warn_at == shanghai(2026, 2, 28, 14, 24)
    cal = m.policy.calendar
    assert sla.elapsed_now(cl, shanghai(2026, 2, 14, 9), cal) == 0.0  # the night is free
    assert sla.elapsed_now(cl, shanghai(2026, 2, 14, 18), cal) == 9 * 3600.0  # a worked Saturday
    assert sla.elapsed_now(cl, shanghai(2026, 2, 24, 9), cal) == 9 * 3600.0  # the holiday week
    assert sla.elapsed_now(cl, shanghai(2026, 2, 24, 10), cal) == 10 * 3600.0


def test_the_closure_clock_fires_at_its_working_time_instants(policy) -> None:
    m = general(policy, at=FESTIVAL_EVE)
    warn, due = shanghai(2026, 2, 28, 14, 24), shanghai(2026, 3, 2, 18)
    m.fire_due(warn - US)  # the wall-clock targets have all breached by now
    assert m.state.clocks[CL].warned_at is None
    assert m.state.escalation_level == 1
    last = m.state.last_seq
    m.fire_due(warn)
    assert since(m, last) == [("clock_warning", "closure"), ("notification_queued", "sla_warning")]
    assert m.state.clocks[CL].warned_at == warn
    assert m.next_wake() == (due, "complaint closure SLA (general) due 03-02 18:00")
    m.fire_due(due - US)
    assert m.state.clocks[CL].breached_at is None
    m.fire_due(due)
    assert since(m, last)[2:] == [
        ("clock_breached", "closure"), ("escalated", None), ("notification_queued", "escalation"),
    ]
    assert (m.state.clocks[CL].state, m.state.clocks[CL].breached_at) == (ClockState.BREACHED, due)
    assert m.state.escalation_level == 1


def test_closure_from_a_plain_friday_evening_ends_on_the_second_tuesday(policy) -> None:
    m = general(policy, at=shanghai(2026, 11, 20, 19))
    cl = m.state.clocks[CL]
    assert (cl.due_at, cl.warn_at) == (shanghai(2026, 12, 1, 18), shanghai(2026, 11, 30, 14, 24))
    cal = m.policy.calendar
    assert sla.elapsed_now(cl, shanghai(2026, 11, 23, 9), cal) == 0.0  # weekend: nothing counts
    assert sla.elapsed_now(cl, shanghai(2026, 11, 23, 9, 30), cal) == 1800.0


def test_a_pause_takes_only_working_time_out_of_the_closure_clock(policy) -> None:
    m = general(policy, at=shanghai(2026, 2, 12, 10))  # Thursday before the festival
    assert m.state.clocks[CL].due_at == shanghai(2026, 2, 28, 10)
    m.apply("request_info", RequestInfo(question="Photo?"), shanghai(2026, 2, 13, 12))
    assert m.state.clocks[CL].consumed_seconds == 11 * 3600.0  # Thu 8 h + Fri 3 h
    m.apply("customer_reply", CustomerReply(), shanghai(2026, 2, 25, 10))
    # 52 working hours were left: Wed 8, Thu 9, Fri 9, Sat 28 9, Mon 9, then 8 on Tuesday.
    assert m.state.clocks[CL].due_at == shanghai(2026, 3, 3, 17)
    assert m.state.clocks[CL].warn_at == m.policy.calendar.add_business_seconds(
        shanghai(2026, 2, 25, 10), 0.8 * 7 * WORKING_DAY - 11 * 3600.0
    )
