"""Pausing and meeting clocks (S1.2, S1.7): waiting on the customer pauses the open clocks and a
reply resumes them with the due instants pushed out by exactly the paused time; a breached
clock keeps counting; each clock is met by the right step and only by it; withdrawal stops them.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cases.models import (
    Acknowledge,
    Assign,
    ClockState,
    Confirm,
    CustomerReply,
    Escalate,
    Note,
    ProposeResolution,
    RequestInfo,
    ResolutionType,
    Status,
    Withdraw,
)
from tests.support.machine import (
    CL,
    FR,
    HOUR,
    IH,
    RES,
    T0,
    US,
    executed,
    frozen,
    general,
    since,
)

ASK = RequestInfo(question="A photo, please?")


def test_waiting_on_the_customer_pushes_the_due_instants_out_by_the_paused_time(policy) -> None:
    m = general(policy, category="logistics")  # resolution 24 h
    due = {n: m.state.clocks[n].due_at for n in (IH, RES, CL)}
    warn = {n: m.state.clocks[n].warn_at for n in (IH, RES, CL)}
    paused, replied = T0 + 2 * HOUR, T0 + 32 * HOUR
    m.apply("request_info", ASK, paused)
    for name in (IH, RES, CL):
        c = m.state.clocks[name]
        assert (c.state, c.paused_at, c.running_since, c.due_at, c.warn_at) == (
            ClockState.PAUSED, paused, None, None, None,
        )
    assert m.state.clocks[RES].consumed_seconds == 2 * 3600.0
    assert m.state.clocks[CL].consumed_seconds == 2 * 3600.0  # 10:00-12:00 on a Monday
    assert m.next_wake() is None
    before = frozen(m)
    m.fire_due(T0 + 31 * HOUR)  # past the 24 h target: a paused clock cannot breach
    assert frozen(m) == before

    m.apply("customer_reply", CustomerReply(text="here"), replied)
    for name in (IH, RES):  # wall-clock: pushed out by exactly the 30 h paused
        c = m.state.clocks[name]
        assert (c.state, c.due_at, c.warn_at) == (
            ClockState.RUNNING, due[name] + (replied - paused), warn[name] + (replied - paused),
        )
    # Working time: 12:00 Monday to 18:00 Tuesday is 15 working hours, which the closure clock
    # now ends later (7 working days counted without them).
    cal = m.policy.calendar
    off = cal.business_seconds_between(paused, replied)
    assert off == 15 * 3600.0
    assert m.state.clocks[CL].due_at == cal.add_business_seconds(due[CL], off)
    assert m.state.clocks[CL].warn_at == cal.add_business_seconds(warn[CL], off)
    assert m.next_wake()[0] == replied + (19.2 * HOUR - 2 * HOUR)  # resolution warning
    m.fire_due(replied + 22 * HOUR - US)
    assert m.state.clocks[RES].breached_at is None
    m.fire_due(replied + 22 * HOUR)
    assert m.state.clocks[RES].breached_at == replied + 22 * HOUR
    assert m.state.escalation_level == 2


def test_a_warned_clock_stays_warned_through_a_pause_and_warns_once(policy) -> None:
    m = general(policy, category="logistics")
    m.fire_due(T0 + 19.2 * HOUR)  # resolution warning (and first-response breach at 4 h)
    assert m.state.clocks[RES].state == ClockState.WARNED
    m.apply("request_info", ASK, T0 + 20 * HOUR)
    assert m.state.clocks[RES].state == ClockState.PAUSED
    m.apply("customer_reply", CustomerReply(), T0 + 30 * HOUR)
    res = m.state.clocks[RES]
    assert (res.state, res.warned_at, res.warn_at, res.due_at) == (
        ClockState.WARNED, T0 + 19.2 * HOUR, None, T0 + 34 * HOUR,
    )
    warnings = sum(1 for e in m.events if e.type == "clock_warning" and e.data["clock"] == "resolution")
    m.fire_due(T0 + 34 * HOUR)
    assert warnings == 1 == sum(
        1 for e in m.events if e.type == "clock_warning" and e.data["clock"] == "resolution"
    )
    assert m.state.clocks[RES].breached_at == T0 + 34 * HOUR


def test_a_breached_clock_does_not_pause(policy) -> None:
    m = general(policy, category="logistics")
    m.fire_due(T0 + 24 * HOUR)  # first response (4 h) and resolution (24 h) breached
    assert m.state.clocks[RES].state == ClockState.BREACHED
    last = m.state.last_seq
    m.apply("request_info", ASK, T0 + 25 * HOUR)
    res = m.state.clocks[RES]
    assert (res.state, res.paused_at, res.running_since) == (ClockState.BREACHED, None, T0)
    assert since(m, last) == [
        ("info_requested", None),
        ("clock_met", "first_response"),
        ("clock_paused", "initial_handling"),
        ("clock_paused", "closure"),
        ("notification_queued", "info_request"),
    ]
    m.apply("customer_reply", CustomerReply(), T0 + 35 * HOUR)
    assert [e.data["clock"] for e in m.events if e.type == "clock_resumed"] == ["initial_handling", "closure"]
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.REPAIR), T0 + 36 * HOUR)
    m.resolution_executed(executed("repair_visit"), T0 + 40 * HOUR)
    res = m.state.clocks[RES]
    # It kept counting while the case waited: 40 h, not 30 h.
    assert (res.state, res.met_at, res.elapsed_seconds) == (ClockState.BREACHED, T0 + 40 * HOUR, 40 * 3600.0)
    assert m.events[-2].data["on_time"] is False


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("acknowledge", Acknowledge()),
        ("request_info", ASK),
        ("propose_resolution", ProposeResolution(type=ResolutionType.EXPLANATION)),
    ],
)
def test_the_first_response_is_met_by_acknowledge_request_info_or_a_proposal(policy, action, data) -> None:
    m = general(policy)
    m.apply(action, data, T0 + 3 * HOUR)
    fr = m.state.clocks[FR]
    assert (fr.state, fr.met_at, fr.elapsed_seconds) == (ClockState.MET, T0 + 3 * HOUR, 3 * 3600.0)
    assert m.state.first_response_at == T0 + 3 * HOUR
    assert (m.state.clocks[IH].met_at is not None) == (action == "propose_resolution")


@pytest.mark.parametrize(
    ("action", "data"),
    [("note", Note(text="x")), ("assign", Assign(handler="a")), ("escalate", Escalate(reason="x"))],
)
def test_other_actions_meet_no_clock(policy, action, data) -> None:
    m = general(policy)
    m.apply(action, data, T0 + HOUR)
    assert {c.state for c in m.state.clocks.values()} == {ClockState.RUNNING}
    assert m.state.first_response_at is None


def test_each_later_clock_is_met_by_its_own_step(policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(), T0 + HOUR)
    assert (m.state.clocks[IH].met_at, m.state.clocks[RES].met_at) == (None, None)
    m.apply("propose_resolution", ProposeResolution(type=ResolutionType.REFUND, amount=Decimal("50")),
            T0 + 2 * HOUR)
    assert m.state.clocks[IH].met_at == T0 + 2 * HOUR  # initial handling: the proposal
    assert m.state.clocks[RES].met_at is None
    m.resolution_executed(executed(), T0 + 3 * HOUR)
    assert m.state.clocks[RES].met_at == T0 + 3 * HOUR  # resolution: carried out
    assert m.state.clocks[CL].state == ClockState.RUNNING
    m.apply("confirm", Confirm(), T0 + 4 * HOUR)
    cl = m.state.clocks[CL]  # closure: accepted by the customer, counted in working time
    assert (cl.state, cl.met_at, cl.elapsed_seconds) == (ClockState.MET, T0 + 4 * HOUR, 4 * 3600.0)
    assert m.state.sla_state == "met"


def test_withdrawal_while_waiting_stops_the_paused_clocks(policy) -> None:
    m = general(policy)
    m.apply("request_info", ASK, T0 + HOUR)
    m.apply("withdraw", Withdraw(), T0 + 5 * HOUR)
    for name in (IH, RES, CL):
        c = m.state.clocks[name]
        assert (c.stopped_at, c.consumed_seconds, c.due_at) == (T0 + 5 * HOUR, 3600.0, None)
    assert m.state.status == Status.WITHDRAWN
    assert m.next_wake() is None
    m.fire_due(T0 + timedelta(days=30))
    assert all(c.breached_at is None for c in m.state.clocks.values())
    assert m.state.escalation_level == 3 and m.events[-1].type == "withdrawn"
    assert m.events[-1].at == T0 + 5 * HOUR
