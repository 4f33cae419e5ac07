"""The SLA clocks through the workflow: warnings, breaches and escalation, the VIP and logistics
targets, pauses while the customer is asked, and working-day deadlines over weekends and holidays.

Each test runs its own worker (fresh task queue) against the module's time-skipping Temporal
server and the session's embedded PostgreSQL. Time only moves through `env.sleep`; every expected
instant is computed from the case's `opened_at` (or the instant of the action that restarted a
clock) and the policy snapshot's calendar.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cases.clocks import sla
from cases.models import (
    CaseState,
    Category,
    ClockState,
    CustomerTier,
    Status,
    Tier,
)
from cases.policy.snapshot import Policy, load_policy
from tests.integration.lifecycle.shared import (
    SHANGHAI,
    general_intake,
    schedule,
    urgent_intake,
    walk,
)
from tests.support.lifecycle_helpers import (
    CL,
    FR,
    HOUR,
    IH,
    RES,
    Cases,
    advance_to,
    assert_clock_schedule,
    audit_trail,
    business_due,
    case_row,
    notification_rows,
    running_cases,
    working_days,
)


async def test_general_clocks_warn_and_breach_on_time_up_to_headquarters(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake())
        case_id, o = opened.case_id, state.opened_at
        snap = cases.snapshot(state)
        closure_due = business_due(snap, o, working_days(7))
        closure_warn = business_due(snap, o, working_days(7) * 0.8)
        assert_clock_schedule(state.clocks[FR], o + 24 * HOUR, o + 19.2 * HOUR)
        assert_clock_schedule(state.clocks[IH], o + 48 * HOUR, o + 38.4 * HOUR)
        assert_clock_schedule(state.clocks[RES], o + 72 * HOUR, o + 57.6 * HOUR)
        assert_clock_schedule(state.clocks[CL], closure_due, closure_warn)
        assert (state.clocks[CL].business, state.clocks[CL].target_label) == (
            True,
            "7wd",
        )
        # Seven working days never fit in less than seven calendar days.
        assert closure_due - o >= timedelta(days=7)

        dues = (
            schedule(o, FR, 24)
            + schedule(o, IH, 48)
            + schedule(o, RES, 72)
            + [(closure_warn, CL, "warning"), (closure_due, CL, "breach")]
        )
        final = await walk(cases, case_id, dues, level=3)
        assert final.escalation_level == 1 and final.escalations == 4
        assert final.status == Status.REGISTERED

    breaches = [
        (json.loads(r["data"])["from_level"], json.loads(r["data"])["to_level"])
        for r in await audit_trail(pool, case_id)
        if r["type"] == "escalated"
    ]
    assert breaches == [(3, 2), (2, 1), (1, 1), (1, 1)]
    row = await case_row(pool, case_id)
    assert (row["escalation_level"], row["escalations"], row["sla_state"]) == (
        1,
        4,
        "breached",
    )


async def test_urgent_clocks_start_at_level_two_and_stop_at_one(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(urgent_intake())
        case_id, o = opened.case_id, state.opened_at
        assert state.escalation_level == 2
        assert_clock_schedule(state.clocks[FR], o + HOUR, o + 0.8 * HOUR)
        assert_clock_schedule(state.clocks[IH], o + 12 * HOUR, o + 9.6 * HOUR)
        assert_clock_schedule(state.clocks[RES], o + 24 * HOUR, o + 19.2 * HOUR)
        dues = schedule(o, FR, 1) + schedule(o, IH, 12) + schedule(o, RES, 24)
        final = await walk(cases, case_id, dues, level=2)
        assert final.escalation_level == 1 and final.escalations == 3
        escalated = [
            r["recipient"]
            for r in await notification_rows(pool, case_id, kind="escalation")
        ]
        assert escalated == ["hq-duty-manager"] * 3


async def test_vip_first_response_is_fifteen_minutes(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake(customer_tier="vip"))
        case_id, o = opened.case_id, state.opened_at
        fr = state.clocks[FR]
        assert (fr.target_seconds, fr.target_label, fr.business) == (
            900.0,
            "15m",
            False,
        )
        assert_clock_schedule(fr, o + timedelta(minutes=15), o + timedelta(minutes=12))
        # The override only touches the first response.
        assert state.clocks[RES].due_at == o + 72 * HOUR
        final = await walk(
            cases,
            case_id,
            [
                (o + timedelta(minutes=12), FR, "warning"),
                (o + timedelta(minutes=15), FR, "breach"),
            ],
            level=3,
        )
        assert final.escalation_level == 2


async def test_logistics_targets_are_four_and_twenty_four_hours(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake(category="logistics"))
        case_id, o = opened.case_id, state.opened_at
        assert opened.tier == Tier.GENERAL
        assert (state.clocks[FR].target_label, state.clocks[RES].target_label) == (
            "4h",
            "24h",
        )
        assert_clock_schedule(state.clocks[FR], o + 4 * HOUR, o + 3.2 * HOUR)
        assert_clock_schedule(state.clocks[RES], o + 24 * HOUR, o + 19.2 * HOUR)
        assert_clock_schedule(state.clocks[IH], o + 48 * HOUR, o + 38.4 * HOUR)

        # An urgent logistics case keeps its tighter 1 h first response.
        _, urgent = await cases.open(
            general_intake(category="logistics", flags={"safety_risk": True})
        )
        assert urgent.tier == Tier.URGENT
        assert urgent.clocks[FR].target_label == "1h"
        assert urgent.clocks[FR].due_at == urgent.opened_at + HOUR
        assert urgent.clocks[RES].due_at == urgent.opened_at + 24 * HOUR
        await cases.act(urgent.case_id, "withdraw", {"reason": "duplicate"})

        final = await walk(
            cases, case_id, schedule(o, FR, 4) + schedule(o, RES, 24), level=3
        )
        assert final.escalation_level == 1
        escalated = [
            r["recipient"]
            for r in await notification_rows(pool, case_id, kind="escalation")
        ]
        assert escalated == ["regional-supervisor", "hq-duty-manager"]


async def test_waiting_on_the_customer_pauses_the_clocks(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        # Logistics: the resolution target is 24 h.
        opened, state = await cases.open(general_intake(category="logistics"))
        case_id, o = opened.case_id, state.opened_at
        snap = cases.snapshot(state)
        await advance_to(env, o + 2 * HOUR)
        asked = await cases.act(
            case_id, "request_info", {"actor": "agent-1", "question": "Photo?"}
        )
        assert asked.status == Status.AWAITING_CUSTOMER
        paused_at = asked.clocks[RES].paused_at
        assert paused_at is not None and paused_at >= o + 2 * HOUR
        used = paused_at - o
        for name in (IH, RES, CL):
            clock = asked.clocks[name]
            assert clock.state == ClockState.PAUSED, name
            assert (clock.due_at, clock.warn_at, clock.running_since) == (
                None,
                None,
                None,
            )
        assert asked.clocks[RES].consumed_seconds == used.total_seconds()
        assert asked.clocks[FR].state == ClockState.MET  # asking is a first response

        await advance_to(env, paused_at + 30 * HOUR)
        waiting = await cases.state(case_id)
        assert waiting.status == Status.AWAITING_CUSTOMER
        assert all(
            c.breached_at is None and c.warned_at is None
            for c in waiting.clocks.values()
        )
        assert waiting.escalation_level == 3 and waiting.escalations == 0

        replied = await cases.act(case_id, "customer_reply", {"text": "Here it is"})
        assert replied.status == Status.ACKNOWLEDGED
        reply_at = replied.clocks[RES].running_since
        assert reply_at is not None and reply_at - paused_at >= 30 * HOUR
        assert replied.clocks[RES].state == ClockState.RUNNING
        assert_clock_schedule(
            replied.clocks[RES],
            reply_at + (24 * HOUR - used),
            reply_at + (19.2 * HOUR - used),
        )
        assert_clock_schedule(
            replied.clocks[IH],
            reply_at + (48 * HOUR - used),
            reply_at + (38.4 * HOUR - used),
        )
        business_used = snap.calendar.business_seconds_between(o, paused_at)
        assert replied.clocks[CL].due_at == business_due(
            snap, reply_at, working_days(7) - business_used
        )

        final = await walk(
            cases,
            case_id,
            [
                (reply_at + (19.2 * HOUR - used), RES, "warning"),
                (reply_at + (24 * HOUR - used), RES, "breach"),
            ],
            level=3,
        )
        assert final.escalation_level == 2
    trail = [r["type"] for r in await audit_trail(pool, case_id)]
    assert trail.count("clock_paused") == 3 and trail.count("clock_resumed") == 3
    assert trail.count("clock_breached") == 1


# =============================================================================================
# Working days


def two_working_day_policy(policy: Policy, **calendar: Any) -> Policy:
    """The default policy with a general first response of two working days. The other general
    clocks get 20 working days, so nothing else escalates while the first response runs."""
    targets = {tier: dict(clocks) for tier, clocks in policy.targets.items()}
    targets[Tier.GENERAL] = {FR: "2wd", IH: "20wd", RES: "20wd", CL: "20wd"}
    return policy.model_copy(
        update={
            "targets": targets,
            "calendar": policy.calendar.model_copy(update=calendar),
        }
    )


def two_wd_clock(policy: Policy, start: datetime) -> Any:
    snap = two_working_day_policy(policy).snapshot(start)
    target = snap.targets_for(Tier.GENERAL, Category.OTHER, CustomerTier.STANDARD)[FR]
    assert (target.seconds, target.business, target.label) == (18 * 3600.0, True, "2wd")
    return sla.start_clock(
        FR, target, start, snap.calendar, snap.warning_fraction
    ), snap


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_two_working_days_from_friday_afternoon_end_on_tuesday(policy) -> None:
    clock, _ = two_wd_clock(policy, local(2026, 11, 20, 15))
    assert clock.due_at == local(2026, 11, 24, 15)
    assert clock.warn_at == local(2026, 11, 24, 11, 24)
    assert clock.state == ClockState.RUNNING


def test_two_working_days_across_a_make_up_saturday(policy) -> None:
    # Thursday before the 2026 Spring Festival; Saturday 14 February is a working day.
    clock, _ = two_wd_clock(policy, local(2026, 2, 12, 15))
    assert clock.due_at == local(2026, 2, 14, 15)
    assert clock.warn_at == local(2026, 2, 14, 11, 24)


def test_two_working_days_across_the_spring_festival(policy) -> None:
    # Friday 13 February 2026: Saturday 14 is worked, 15-23 February are off.
    clock, snap = two_wd_clock(policy, local(2026, 2, 13, 15))
    assert clock.due_at == local(2026, 2, 24, 15)
    assert clock.warn_at == local(2026, 2, 24, 11, 24)

    # Paused at 17:00 on the Friday (2 working hours used), resumed after the holiday.
    sla.pause(clock, local(2026, 2, 13, 17), snap.calendar)
    assert clock.state == ClockState.PAUSED and clock.due_at is None
    assert clock.consumed_seconds == 2 * 3600.0
    sla.resume(clock, local(2026, 2, 24, 10), snap.calendar, snap.warning_fraction)
    assert clock.state == ClockState.RUNNING
    assert clock.due_at == local(2026, 2, 25, 17)
    assert clock.warn_at == local(2026, 2, 25, 13, 24)
    events = sla.due_events(clock, local(2026, 2, 25, 17))
    assert [(e.kind, e.due_at) for e in events] == [
        ("warning", local(2026, 2, 25, 13, 24)),
        ("breach", local(2026, 2, 25, 17)),
    ]
    assert clock.breached_at == local(2026, 2, 25, 17)


def next_plain_friday(policy: Policy, after: datetime) -> date:
    """The first Friday after `after` (Shanghai) followed by two weeks of plain weekdays and
    weekends on the CN calendar, so hand-computed deadlines hold."""
    snap = policy.snapshot(after)
    cal = snap.calendar
    day = after.astimezone(SHANGHAI).date() + timedelta(days=1)
    while True:
        window = [day + timedelta(days=i) for i in range(15)]
        plain = all(cal.is_working_day(d) == (d.weekday() < 5) for d in window)
        if day.weekday() == 4 and plain:
            return day
        day += timedelta(days=1)


async def test_working_day_deadlines_through_the_workflow(
    env, pool, policy, tmp_path: Path
) -> None:
    friday = next_plain_friday(policy, await env.get_current_time())
    saturday = friday + timedelta(days=1)
    holiday_week = [friday + timedelta(days=i) for i in range(3, 8)]  # Monday .. Friday

    plain = two_working_day_policy(policy)
    # A Spring-Festival-like break: a worked Saturday, then a whole week off.
    festival = two_working_day_policy(
        policy, extra_workdays=[saturday], extra_holidays=holiday_week
    )
    # A make-up Saturday, written as a policy file the way an operator would.
    policy_file = tmp_path / "make_up_saturday.toml"
    policy_file.write_text(
        "\n".join(
            [
                f"[targets.{tier.value}]\n"
                + "\n".join(f'{c.value} = "{t}"' for c, t in clocks.items())
                for tier, clocks in two_working_day_policy(policy).targets.items()
            ]
            + [f"[calendar]\nextra_workdays = [{saturday.isoformat()}]"]
        ),
        encoding="utf-8",
    )
    make_up = load_policy(policy_file)
    assert make_up.targets[Tier.GENERAL][FR] == "2wd"

    await advance_to(env, datetime.combine(friday, time(15), tzinfo=SHANGHAI))
    async with (
        running_cases(env, pool, plain) as plain_cases,
        running_cases(env, pool, festival) as festival_cases,
        running_cases(env, pool, make_up) as make_up_cases,
    ):
        opened: dict[str, tuple[Cases, CaseState]] = {}
        for name, cases in (
            ("plain", plain_cases),
            ("festival", festival_cases),
            ("make_up", make_up_cases),
        ):
            _, state = await cases.open(general_intake())
            local_open = state.opened_at.astimezone(SHANGHAI)
            assert (
                local_open.date() == friday
                and local_open.hour == 15
                and local_open.minute == 0
            )
            opened[name] = (cases, state)

        expected_days = {
            "plain": 4,
            "festival": 10,
            "make_up": 3,
        }  # Tue, Mon+1 week, Mon
        dues = []
        for name, (cases, state) in opened.items():
            o = state.opened_at
            clock = state.clocks[FR]
            due = o + timedelta(days=expected_days[name])
            # 14.4 of the 18 working hours: 3 h 36 min before the deadline, same day.
            assert_clock_schedule(clock, due, due - timedelta(hours=3, minutes=36))
            assert clock.due_at == business_due(
                cases.snapshot(state), o, working_days(2)
            )
            assert (clock.business, clock.target_label) == (True, "2wd")
            dues.append((due, name))

        for due, name in sorted(dues):
            cases, state = opened[name]
            final = await walk(cases, state.case_id, [(due, FR, "breach")], level=3)
            assert final.clocks[FR].breached_at == due
            assert final.escalation_level == 2
