"""Warnings and breaches fire at their exact instants (S1.5, S2.3): `fire_due` a microsecond
before does nothing, at the instant it warns the current level's supervisor or breaches and
escalates one level (never above 1) telling the new level's supervisor; `next_wake` names the
next such instant, and the confirmation, survey and follow-up deadlines.
"""

from __future__ import annotations

from datetime import datetime

from cases.clocks import specs
from cases.models import Acknowledge, ClockName, ClockState, Confirm, Rate, Status
from tests.support.machine import (
    CL,
    DAY,
    FR,
    HOUR,
    IH,
    MINUTE,
    RES,
    SAMPLED,
    T0,
    US,
    assert_gapless,
    frozen,
    general,
    open_case,
    resolve,
    shanghai,
    since,
)
from tests.unit.cases.clocks.test_targets import CLOSURE_DUE, CLOSURE_WARN

Due = tuple[datetime, ClockName, str]


def plan(name: ClockName, hours: float) -> list[Due]:
    return [(T0 + 0.8 * hours * HOUR, name, "warning"), (T0 + hours * HOUR, name, "breach")]


def walk(m, dues: list[Due], level: int) -> None:
    """Fire each (instant, clock, kind) in time order and check exactly what it did."""
    for at, name, kind in sorted(dues):
        assert m.next_wake() is not None and m.next_wake()[0] == at
        before = frozen(m)
        m.fire_due(at - US)
        assert frozen(m) == before, f"{name} {kind} fired before {at}"
        last = m.state.last_seq
        m.fire_due(at)
        clock = m.state.clocks[name]
        label = f"{specs.LABELS[name]} SLA ({m.state.tier.value})"
        notice = m.notifications[-1]
        if kind == "warning":
            assert since(m, last) == [("clock_warning", name.value), ("notification_queued", "sla_warning")]
            assert (clock.warned_at, clock.breached_at, clock.state) == (at, None, ClockState.WARNED)
            assert m.state.escalation_level == level
            assert (notice.kind, notice.recipient, notice.subject) == (
                "sla_warning", m.policy.supervisor(level), f"{label} due {clock.due_at.isoformat()}",
            )
        else:
            assert since(m, last) == [
                ("clock_breached", name.value), ("escalated", None), ("notification_queued", "escalation"),
            ]
            assert (clock.breached_at, clock.breach_detected_at, clock.state) == (at, at, ClockState.BREACHED)
            assert (clock.due_at, clock.warn_at) == (None, None)
            assert m.events[-3].data["detected_at"] == at.isoformat()
            assert m.events[-2].data == {
                "reason": f"{specs.LABELS[name]} SLA breached", "from_level": level, "to_level": max(1, level - 1),
                "level_name": m.policy.level_name(max(1, level - 1)),
            }
            level = max(1, level - 1)
            assert m.state.escalation_level == level
            assert (notice.kind, notice.recipient, notice.subject, notice.data["level"]) == (
                "escalation", m.policy.supervisor(level),
                f"Escalated to level {level} ({m.policy.level_name(level)}): {specs.LABELS[name]} SLA breached",
                level,
            )
        assert all(e.at == at for e in m.events if e.seq > last)
        again = frozen(m)
        m.fire_due(at)  # each warning and breach fires once
        assert frozen(m) == again
    assert_gapless(m)


def test_general_clocks_warn_and_breach_on_time_up_to_headquarters(policy) -> None:
    m = general(policy)
    dues = plan(FR, 24) + plan(IH, 48) + plan(RES, 72)
    walk(m, dues + [(CLOSURE_WARN, CL, "warning"), (CLOSURE_DUE, CL, "breach")], level=3)
    assert (m.state.escalation_level, m.state.escalations, m.state.status) == (1, 4, Status.REGISTERED)
    steps = [(e.data["from_level"], e.data["to_level"]) for e in m.events if e.type == "escalated"]
    assert steps == [(3, 2), (2, 1), (1, 1), (1, 1)]
    assert m.state.sla_state == "breached"
    assert m.next_wake() is None  # every clock has breached: nothing left to wait for


def test_urgent_clocks_start_at_level_two_and_stop_at_one(policy) -> None:
    m = open_case(policy, category="safety")
    walk(m, plan(FR, 1) + plan(IH, 12) + plan(RES, 24), level=2)
    assert (m.state.escalation_level, m.state.escalations) == (1, 3)
    assert [n.recipient for n in m.notifications if n.kind == "escalation"] == ["hq-duty-manager"] * 3


def test_vip_first_response_warns_at_twelve_minutes_and_breaches_at_fifteen(policy) -> None:
    m = general(policy, customer_tier="vip")
    walk(m, [(T0 + 12 * MINUTE, FR, "warning"), (T0 + 15 * MINUTE, FR, "breach")], level=3)
    assert m.state.escalation_level == 2


def test_logistics_clocks_fire_at_four_and_twenty_four_hours(policy) -> None:
    m = general(policy, category="logistics")
    walk(m, plan(FR, 4) + plan(RES, 24), level=3)
    assert [n.recipient for n in m.notifications if n.kind == "escalation"] == [
        "regional-supervisor", "hq-duty-manager",
    ]


def test_a_late_wake_fires_everything_due_in_time_order(policy) -> None:
    m = general(policy, category="logistics")  # first response 4 h, resolution 24 h
    last = m.state.last_seq
    m.fire_due(T0 + 40 * HOUR)
    assert [k for k in since(m, last) if k[0] != "notification_queued"] == [
        ("clock_warning", "first_response"),  # 3.2 h
        ("clock_breached", "first_response"), ("escalated", None),  # 4 h
        ("clock_warning", "resolution"),  # 19.2 h
        ("clock_breached", "resolution"), ("escalated", None),  # 24 h
        ("clock_warning", "initial_handling"),  # 38.4 h
    ]
    assert m.state.clocks[RES].breached_at == T0 + 24 * HOUR
    assert m.state.clocks[RES].breach_detected_at == T0 + 40 * HOUR
    assert m.state.escalation_level == 1
    assert m.state.clocks[IH].state == ClockState.WARNED


def test_a_clock_met_in_time_never_fires(policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(), T0 + 19.2 * HOUR - US)
    before_level = m.state.escalation_level
    m.fire_due(T0 + 24 * HOUR)
    assert m.state.clocks[FR].warned_at is None and m.state.clocks[FR].breached_at is None
    assert m.state.escalation_level == before_level == 3
    assert m.next_wake() == (T0 + 38.4 * HOUR, "initial handling SLA (general) warning at 03-04 00:24")


def test_next_wake_names_the_next_instant_in_local_time(policy) -> None:
    m = general(policy)
    assert m.next_wake() == (T0 + 19.2 * HOUR, "first response SLA (general) warning at 03-03 05:12")
    m.fire_due(T0 + 19.2 * HOUR)
    assert m.next_wake() == (T0 + 24 * HOUR, "first response SLA (general) due 03-03 10:00")


def test_next_wake_names_the_confirmation_survey_and_follow_up_deadlines(policy) -> None:
    m = general(policy, case_id=SAMPLED)
    done = resolve(m, T0 + HOUR)
    # The closure clock still runs, but its warning (Monday 9 March) comes after the window.
    assert m.next_wake() == (done + 72 * HOUR, "confirmation window ends 03-05 11:02")
    m.apply("confirm", Confirm(), done + HOUR)
    assert m.next_wake() == (done + HOUR + 7 * DAY, "satisfaction survey closes 03-09 12:02")
    m.apply("rate", Rate(score=5), done + 2 * HOUR)
    assert m.state.status == Status.FOLLOW_UP
    assert m.next_wake() is None  # nothing to wait for until the follow-up is booked
    booked = m.follow_up_due()
    m.follow_up_scheduled("fu-1", booked, done + 3 * HOUR)
    assert m.next_wake() == (booked + 3 * DAY, "follow-up outcome expected by 03-12 11:02")
    assert booked + 3 * DAY == shanghai(2026, 3, 12, 11, 2)
