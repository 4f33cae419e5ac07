"""The life of a case on the time-skipping server: every path, clock, review, saga and refusal.

Each test runs its own worker (fresh task queue) against the session's time-skipping Temporal
server and embedded PostgreSQL. Time only moves through `env.sleep`; every expected instant is
computed from the case's `opened_at` (or the instant of the action that restarted a clock) and
the policy snapshot's calendar.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from activities.contracts import (
    MoneyMovement,
    MoneyMovementResult,
    Reversal,
    ReversalResult,
)
from activities.refunds import LedgerRefunds
from cases import sla
from cases.models import (
    CaseState,
    Category,
    ClockName,
    ClockState,
    CustomerTier,
    FollowUpOutcome,
    ResolutionType,
    Status,
    Tier,
)
from cases.policy import Policy, load_policy
from starter.client import CaseError
from tests.factories import intake
from tests.lifecycle_helpers import (
    AP,
    CL,
    FR,
    HOUR,
    IH,
    RES,
    Cases,
    advance_to,
    assert_breached,
    assert_clock_schedule,
    assert_gapless_trail,
    assert_warned,
    audit_trail,
    business_due,
    case_id_with_sample,
    case_row,
    eventually,
    execution,
    notification_rows,
    refund_rows,
    running_cases,
    wait_notifications,
    working_days,
)
from workflows.case_input import CaseRun

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECOND = timedelta(seconds=1)
HANDLING = (FR, IH, RES, CL)

OPENING = [
    ("opened", None),
    ("clock_started", "first_response"),
    ("clock_started", "initial_handling"),
    ("clock_started", "resolution"),
    ("clock_started", "closure"),
    ("notification_queued", "acknowledgement"),
]
ACKNOWLEDGED = [("acknowledged", None), ("clock_met", "first_response")]
PROPOSED = [("resolution_proposed", None), ("clock_met", "initial_handling")]
APPROVAL_REQUESTED = [
    ("clock_started", "approval"),
    ("notification_queued", "approval_requested"),
]
APPROVED = [("approved", None), ("clock_met", "approval")]
EXECUTED = [
    ("resolution_executed", None),
    ("clock_met", "resolution"),
    ("notification_queued", "result"),
]
CONFIRMED = [
    ("confirmed", None),
    ("clock_met", "closure"),
    ("notification_queued", "survey"),
]


def general_intake(**overrides: Any) -> Any:
    return intake(**({"order_amount": "2000.00"} | overrides))


def complex_intake(**overrides: Any) -> Any:
    # An order of 5000 or more makes a case complex.
    return intake(**({"order_amount": "6000.00"} | overrides))


def urgent_intake(**overrides: Any) -> Any:
    return intake(**({"category": "safety", "order_amount": "899.00"} | overrides))


# =============================================================================================
# Happy paths, one per tier


async def _finish_with_follow_up_after_rating(cases: Cases, case_id: str) -> CaseState:
    booked = await cases.wait_follow_up_booked(case_id)
    assert booked.follow_up is not None and booked.resolved_at is not None
    assert booked.follow_up.scheduled_for == booked.resolved_at + timedelta(days=7)
    done = await cases.act(
        case_id,
        "follow_up_result",
        {"actor": "caller-3", "outcome": "satisfied", "note": "fine"},
    )
    assert done.status == Status.CLOSED
    return done


async def _finish_with_follow_up(cases: Cases, case_id: str, score: int) -> CaseState:
    rated = await cases.act(case_id, "rate", {"score": score})
    assert rated.status == Status.FOLLOW_UP
    return await _finish_with_follow_up_after_rating(cases, case_id)


async def test_general_happy_path_not_sampled_closes_after_rating(
    env, pool, policy
) -> None:
    case_id = case_id_with_sample("lc-general-happy", in_sample=False)
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake(case_id=case_id))
        assert (opened.created, opened.tier, opened.status) == (
            True,
            Tier.GENERAL,
            Status.REGISTERED,
        )
        assert state.escalation_level == 3
        assert not cases.snapshot(state).in_follow_up_sample(case_id)

        acked = await cases.act(
            case_id, "acknowledge", {"actor": "agent-7", "message": "on it"}
        )
        assert acked.status == Status.ACKNOWLEDGED
        assert acked.handler == "agent-7"
        assert acked.first_response_at is not None
        assert acked.clocks[FR].state == ClockState.MET
        assert acked.clocks[FR].met_at == acked.first_response_at

        proposed = await cases.act(
            case_id,
            "propose_resolution",
            {"actor": "agent-7", "type": "refund", "amount": "120.50"},
        )
        assert proposed.status == Status.RESOLVING
        assert (
            proposed.proposal is not None and proposed.proposal.needs_approval is False
        )
        assert AP not in proposed.clocks

        resolved = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert resolved.resolution is not None and resolved.resolved_at is not None
        assert resolved.resolution.type == ResolutionType.REFUND
        assert resolved.resolution.amount == Decimal("120.50")
        assert [s.step for s in resolved.resolution.steps] == ["refund"]
        assert resolved.confirmation_due_at == resolved.resolved_at + timedelta(
            hours=72
        )

        confirmed = await cases.act(case_id, "confirm")
        assert confirmed.status == Status.AWAITING_RATING
        assert confirmed.confirmation == "confirmed"
        assert confirmed.clocks[CL].met_at is not None
        assert confirmed.survey_due_at == confirmed.clocks[CL].met_at + timedelta(
            days=7
        )

        rated = await cases.act(case_id, "rate", {"score": 5, "comment": "quick"})
        assert rated.status == Status.CLOSED
        final = await cases.result(case_id)

    assert final.status == Status.CLOSED
    assert final.closed_at is not None
    assert (final.rating, final.rating_comment, final.confirmation) == (
        5,
        "quick",
        "confirmed",
    )
    assert final.follow_up is None
    assert (final.escalation_level, final.escalations, final.reopen_count) == (3, 0, 0)
    assert {n: c.state for n, c in final.clocks.items()} == {
        n: ClockState.MET for n in HANDLING
    }
    assert all(
        c.breached_at is None and c.warned_at is None for c in final.clocks.values()
    )

    trail = await assert_gapless_trail(pool, final)
    assert trail == OPENING + ACKNOWLEDGED + PROPOSED + EXECUTED + CONFIRMED + [
        ("rated", None),
        ("closed", None),
    ]
    row = await case_row(pool, case_id)
    assert row["status"] == "closed"
    assert (row["tier"], row["escalation_level"], row["rating"]) == ("general", 3, 5)
    assert (row["resolution_type"], row["resolution_amount"]) == (
        "refund",
        Decimal("120.50"),
    )
    assert row["review_approved"] is None and row["follow_up_reason"] is None
    assert (row["last_seq"], row["sla_state"]) == (final.last_seq, "met")
    assert row["closed_at"] == final.closed_at

    refunds = await refund_rows(pool, case_id)
    assert [
        (r["key"], r["kind"], r["amount"], r["currency"], r["status"], r["order_id"])
        for r in refunds
    ] == [
        (f"{case_id}:p1:refund", "refund", Decimal("120.50"), "CNY", "executed", "8812")
    ]
    assert final.resolution is not None
    assert refunds[0]["reference"] == final.resolution.steps[0].reference
    survey = await pool.fetchrow(
        "SELECT score, comment FROM surveys WHERE case_id = $1", case_id
    )
    assert survey is not None and (survey["score"], survey["comment"]) == (5, "quick")


async def test_general_happy_path_sampled_gets_a_follow_up(env, pool, policy) -> None:
    case_id = case_id_with_sample("lc-general-sampled", in_sample=True)
    async with running_cases(env, pool, policy) as cases:
        _, state = await cases.open(general_intake(case_id=case_id))
        assert cases.snapshot(state).in_follow_up_sample(case_id)
        await cases.act(case_id, "acknowledge", {"actor": "agent-2"})
        await cases.act(
            case_id, "propose_resolution", {"actor": "agent-2", "type": "repair"}
        )
        await cases.wait(
            case_id, lambda s: s.repair is not None and s.repair.booking is not None, "repair booked"
        )
        resolved = await cases.act(
            case_id, "repair_result", {"actor": "tech-1", "result": "fixed", "repair_record": "RR-1"}
        )
        assert resolved.status == Status.AWAITING_CONFIRMATION
        assert resolved.resolution is not None
        assert [s.step for s in resolved.resolution.steps] == ["repair_visit"]
        await cases.act(case_id, "confirm")
        rated = await cases.act(case_id, "rate", {"score": 4})
        assert rated.follow_up is not None and rated.follow_up.reason == "sample"
        await _finish_with_follow_up_after_rating(cases, case_id)
        final = await cases.result(case_id)

    assert final.status == Status.CLOSED
    assert (
        final.follow_up is not None
        and final.follow_up.outcome == FollowUpOutcome.SATISFIED
    )
    trail = await assert_gapless_trail(pool, final)
    repaired = [
        ("repair_requested", None),
        ("clock_started", "repair"),
        ("repair_booked", None),
        ("clock_met", "repair"),
        ("notification_queued", "repair_booked"),
        ("repair_result", None),
    ]
    assert trail == OPENING + ACKNOWLEDGED + PROPOSED + repaired + EXECUTED + CONFIRMED + [
        ("rated", None),
        ("follow_up_scheduled", None),
        ("follow_up_result", None),
        ("closed", None),
    ]
    visits = await pool.fetch(
        "SELECT kind, scheduled_for, status FROM follow_ups WHERE case_id = $1 ORDER BY kind",
        case_id,
    )
    assert final.resolved_at is not None
    assert [(v["kind"], v["status"]) for v in visits] == [
        ("follow_up", "scheduled"),
        ("repair", "scheduled"),
    ]
    assert visits[0]["scheduled_for"] == final.resolved_at + timedelta(days=7)
    assert await refund_rows(pool, case_id) == []
    row = await case_row(pool, case_id)
    assert (row["status"], row["follow_up_reason"], row["follow_up_outcome"]) == (
        "closed",
        "sample",
        "satisfied",
    )


async def test_complex_happy_path_with_approval_and_follow_up(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(complex_intake())
        case_id = opened.case_id
        assert opened.tier == Tier.COMPLEX and state.escalation_level == 3
        await cases.act(case_id, "acknowledge", {"actor": "agent-4"})
        proposed = await cases.act(
            case_id,
            "propose_resolution",
            {"actor": "agent-4", "type": "refund", "amount": "800"},
        )
        assert proposed.status == Status.AWAITING_APPROVAL
        assert proposed.proposal is not None and proposed.proposal.needs_approval
        approval = proposed.clocks[AP]
        assert approval.due_at == approval.started_at + timedelta(hours=4)
        approved = await cases.act(
            case_id, "approve", {"actor": "supervisor-1", "role": "supervisor", "note": "ok"}
        )
        assert approved.status == Status.RESOLVING
        assert approved.review is not None
        assert (approved.review.approved, approved.review.by) == (True, "supervisor-1")
        assert approved.clocks[AP].state == ClockState.MET
        await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        await cases.act(case_id, "confirm")
        done = await _finish_with_follow_up(cases, case_id, score=4)
        assert done.follow_up is not None and done.follow_up.reason == "tier"
        final = await cases.result(case_id)

    assert final.status == Status.CLOSED and final.rating == 4
    assert (
        final.follow_up is not None
        and final.follow_up.outcome == FollowUpOutcome.SATISFIED
    )
    assert final.escalation_level == 3
    trail = await assert_gapless_trail(pool, final)
    assert trail == (
        OPENING
        + ACKNOWLEDGED
        + PROPOSED
        + APPROVAL_REQUESTED
        + APPROVED
        + EXECUTED
        + CONFIRMED
        + [
            ("rated", None),
            ("follow_up_scheduled", None),
            ("follow_up_result", None),
            ("closed", None),
        ]
    )
    row = await case_row(pool, case_id)
    assert (row["status"], row["tier"], row["review_approved"]) == (
        "closed",
        "complex",
        True,
    )
    assert (row["follow_up_reason"], row["follow_up_outcome"]) == ("tier", "satisfied")
    assert row["last_seq"] == final.last_seq
    refunds = await refund_rows(pool, case_id)
    assert [(r["key"], r["amount"], r["status"]) for r in refunds] == [
        (f"{case_id}:p1:refund", Decimal("800.00"), "executed")
    ]
    approvals = await notification_rows(
        pool, case_id, audience="supervisor", kind="approval_requested"
    )
    assert [r["recipient"] for r in approvals] == ["outlet-supervisor"]


async def test_urgent_happy_path_always_needs_approval(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(urgent_intake())
        case_id = opened.case_id
        assert opened.tier == Tier.URGENT and state.escalation_level == 2
        assert state.clocks[FR].due_at == state.opened_at + HOUR
        await cases.act(case_id, "acknowledge", {"actor": "agent-9"})
        # 200 is below the 500 threshold: the urgent tier alone requires the review.
        proposed = await cases.act(
            case_id,
            "propose_resolution",
            {"actor": "agent-9", "type": "refund", "amount": "200"},
        )
        assert proposed.status == Status.AWAITING_APPROVAL
        await cases.act(case_id, "approve", {"actor": "regional-1", "role": "supervisor"})
        await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        await cases.act(case_id, "confirm")
        done = await _finish_with_follow_up(cases, case_id, score=5)
        assert done.follow_up is not None and done.follow_up.reason == "tier"
        final = await cases.result(case_id)

    assert (
        final.status == Status.CLOSED
        and final.escalation_level == 2
        and final.escalations == 0
    )
    trail = await assert_gapless_trail(pool, final)
    assert trail == (
        OPENING
        + ACKNOWLEDGED
        + PROPOSED
        + APPROVAL_REQUESTED
        + APPROVED
        + EXECUTED
        + CONFIRMED
        + [
            ("rated", None),
            ("follow_up_scheduled", None),
            ("follow_up_result", None),
            ("closed", None),
        ]
    )
    row = await case_row(pool, case_id)
    assert (row["status"], row["tier"], row["escalation_level"]) == (
        "closed",
        "urgent",
        2,
    )
    assert (row["follow_up_reason"], row["last_seq"]) == ("tier", final.last_seq)
    refunds = await refund_rows(pool, case_id)
    assert [(r["key"], r["amount"], r["status"]) for r in refunds] == [
        (f"{case_id}:p1:refund", Decimal("200.00"), "executed")
    ]
    approvals = await notification_rows(
        pool, case_id, audience="supervisor", kind="approval_requested"
    )
    assert [r["recipient"] for r in approvals] == ["regional-supervisor"]


# =============================================================================================
# Clocks: warnings and breaches at their exact instants


async def walk(
    cases: Cases, case_id: str, dues: list[tuple[datetime, ClockName, str]], level: int
) -> CaseState:
    """Move time to each (instant, clock, "warning"|"breach") in turn. One second before it
    nothing has fired; one second after it the clock is warned or breached at exactly that
    instant, the level moved (breaches only, never above 1) and the right supervisor heard."""
    state = await cases.state(case_id)
    snap = cases.snapshot(state)
    warnings = len(
        await notification_rows(
            cases.pool, case_id, audience="supervisor", kind="sla_warning"
        )
    )
    escalations = len(
        await notification_rows(
            cases.pool, case_id, audience="supervisor", kind="escalation"
        )
    )
    for at, name, kind in sorted(dues):
        await advance_to(cases.env, at - SECOND)
        early = (await cases.state(case_id)).clocks[name]
        assert (early.warned_at if kind == "warning" else early.breached_at) is None, (
            name,
            kind,
        )
        assert (await cases.state(case_id)).escalation_level == level
        await advance_to(cases.env, at + SECOND)
        label = sla.LABELS[name]
        if kind == "warning":
            state = await cases.wait(
                case_id,
                lambda s, n=name: s.clocks[n].warned_at is not None,
                f"{name} warning",
            )
            assert_warned(state.clocks[name], at)
            assert state.clocks[name].state == ClockState.WARNED
            assert state.escalation_level == level
            warnings += 1
            rows = await wait_notifications(
                cases.pool, case_id, warnings, audience="supervisor", kind="sla_warning"
            )
            assert len(rows) == warnings
            assert rows[-1]["recipient"] == snap.supervisor(level)
            assert rows[-1]["subject"].startswith(
                f"{label} SLA ({state.tier.value}) due "
            )
        else:
            level = max(1, level - 1)
            state = await cases.wait(
                case_id,
                lambda s, n=name: s.clocks[n].breached_at is not None,
                f"{name} breach",
            )
            assert_breached(state.clocks[name], at)
            assert state.escalation_level == level
            escalations += 1
            rows = await wait_notifications(
                cases.pool,
                case_id,
                escalations,
                audience="supervisor",
                kind="escalation",
            )
            assert len(rows) == escalations
            assert rows[-1]["recipient"] == snap.supervisor(level)
            assert rows[-1]["subject"] == (
                f"Escalated to level {level} ({snap.level_name(level)}): {label} SLA breached"
            )
            data = rows[-1]["data"]
            assert (json.loads(data) if isinstance(data, str) else data)[
                "level"
            ] == level
    return state


def schedule(
    start: datetime, name: ClockName, hours: float
) -> list[tuple[datetime, ClockName, str]]:
    return [
        (start + timedelta(hours=hours * 0.8), name, "warning"),
        (start + timedelta(hours=hours), name, "breach"),
    ]


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


# =============================================================================================
# Review (复核)


async def test_approval_rejected_returns_to_acknowledged_and_allows_a_new_proposal(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "acknowledge")
        proposed = await cases.act(
            case_id, "propose_resolution", {"type": "refund", "amount": "800"}
        )
        assert proposed.status == Status.AWAITING_APPROVAL
        rejected = await cases.act(
            case_id, "reject", {"actor": "supervisor-1", "role": "supervisor", "reason": "too much"}
        )
        assert rejected.status == Status.ACKNOWLEDGED
        assert rejected.proposal is None
        assert rejected.review is not None
        assert (rejected.review.approved, rejected.review.by, rejected.review.note) == (
            False,
            "supervisor-1",
            "too much",
        )
        assert rejected.clocks[AP].state == ClockState.MET
        assert rejected.clocks[RES].met_at is None

        again = await cases.act(
            case_id, "propose_resolution", {"type": "refund", "amount": "300"}
        )
        assert again.status == Status.RESOLVING
        assert again.proposal is not None and again.proposal.number == 2
        assert again.proposals_made == 2 and again.review is None
        resolved = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert (
            resolved.resolution is not None
            and resolved.resolution.amount == Decimal(300)
        )

    refunds = await refund_rows(pool, case_id)
    assert [(r["key"], r["amount"], r["status"]) for r in refunds] == [
        (f"{case_id}:p2:refund", Decimal("300.00"), "executed")
    ]
    assert "rejected" in [r["type"] for r in await audit_trail(pool, case_id)]


async def test_approval_timeout_escalates_and_the_case_keeps_waiting(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "acknowledge")
        proposed = await cases.act(
            case_id, "propose_resolution", {"type": "refund", "amount": "800"}
        )
        p = proposed.clocks[AP].started_at
        assert proposed.proposal is not None and proposed.proposal.proposed_at == p
        assert_clock_schedule(proposed.clocks[AP], p + 4 * HOUR, p + 3.2 * HOUR)
        assert proposed.clocks[AP].target_label == "4h"

        breached = await walk(cases, case_id, schedule(p, AP, 4), level=3)
        assert breached.status == Status.AWAITING_APPROVAL
        assert breached.escalation_level == 2
        assert breached.proposal is not None and breached.proposal.amount == Decimal(
            800
        )

        await advance_to(env, p + 6 * HOUR)
        still = await cases.state(case_id)
        assert still.status == Status.AWAITING_APPROVAL and still.escalation_level == 2

        approved = await cases.act(case_id, "approve", {"actor": "regional-1", "role": "supervisor"})
        assert approved.status == Status.RESOLVING
        assert approved.clocks[AP].state == ClockState.BREACHED
        assert approved.clocks[AP].met_at is not None
        resolved = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert (
            resolved.resolution is not None
            and resolved.resolution.amount == Decimal(800)
        )


# =============================================================================================
# The saga


# =============================================================================================
# Confirmation, rating, follow-up, withdrawal


async def test_dispute_reopens_and_restarts_the_clocks(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        resolved = await cases.resolve(case_id, amount="100")
        assert resolved.resolved_at is not None
        await advance_to(env, resolved.resolved_at + 5 * HOUR)
        disputed = await cases.act(case_id, "dispute", {"reason": "still broken"})
        t = disputed.clocks[FR].started_at
        assert t >= resolved.resolved_at + 5 * HOUR
        snap = cases.snapshot(disputed)
        assert disputed.status == Status.REGISTERED
        assert disputed.reopen_count == 1
        assert (disputed.proposal, disputed.resolution, disputed.review) == (
            None,
            None,
            None,
        )
        assert (
            disputed.first_response_at,
            disputed.confirmation,
            disputed.confirmation_due_at,
        ) == (None, None, None)
        assert AP not in disputed.clocks
        assert set(disputed.clocks) == set(HANDLING)
        for name in HANDLING:
            clock = disputed.clocks[name]
            assert clock.started_at == t and clock.state == ClockState.RUNNING, name
        assert_clock_schedule(disputed.clocks[FR], t + 24 * HOUR, t + 19.2 * HOUR)
        assert_clock_schedule(disputed.clocks[IH], t + 48 * HOUR, t + 38.4 * HOUR)
        assert_clock_schedule(disputed.clocks[RES], t + 72 * HOUR, t + 57.6 * HOUR)
        assert_clock_schedule(
            disputed.clocks[CL],
            business_due(snap, t, working_days(7)),
            business_due(snap, t, working_days(7) * 0.8),
        )
        types = [r["type"] for r in await audit_trail(pool, case_id)]
        assert types[-6:] == ["reopened"] + ["clock_started"] * 4 + [
            "notification_queued"
        ]
        assert "disputed" in types
        round_one = await pool.fetch(
            "SELECT clock, started_at FROM sla_clocks WHERE case_id = $1 AND round = 1",
            case_id,
        )
        assert {r["clock"]: r["started_at"] for r in round_one} == {
            n.value: t for n in HANDLING
        }
        # The first round's clocks are recorded in their final form: met, or stopped at the
        # reopen, never left looking as if they still ran.
        round_zero = {
            r["clock"]: r
            for r in await pool.fetch(
                "SELECT clock, state, met_at, stopped_at, due_at FROM sla_clocks"
                " WHERE case_id = $1 AND round = 0",
                case_id,
            )
        }
        assert round_zero["first_response"]["met_at"] is not None
        assert round_zero["resolution"]["met_at"] is not None
        assert round_zero["closure"]["stopped_at"] == t
        assert round_zero["closure"]["met_at"] is None

        # The second round pays out under its own key.
        second = await cases.resolve(case_id, amount="60")
        assert second.reopen_count == 1 and second.proposals_made == 2
    refunds = await refund_rows(pool, case_id)
    assert [(r["key"], r["amount"], r["status"]) for r in refunds] == [
        (f"{case_id}:p1:refund", Decimal("100.00"), "executed"),
        (f"{case_id}:p2:refund", Decimal("60.00"), "executed"),
    ]


async def test_silence_is_accepted_after_the_confirmation_window(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        resolved = await cases.resolve(case_id)
        assert resolved.resolved_at is not None
        window_end = resolved.resolved_at + 72 * HOUR
        assert resolved.confirmation_due_at == window_end

        await advance_to(env, window_end - SECOND)
        assert (await cases.state(case_id)).status == Status.AWAITING_CONFIRMATION
        await advance_to(env, window_end + SECOND)
        accepted = await cases.wait_status(case_id, Status.AWAITING_RATING)
        assert accepted.confirmation == "accepted_by_silence"
        assert accepted.confirmation_due_at is None
        met = accepted.clocks[CL].met_at
        assert met is not None and timedelta(0) <= met - window_end < SECOND
        assert accepted.clocks[CL].state == ClockState.MET
        assert accepted.survey_due_at == met + timedelta(days=7)
        rows = await audit_trail(pool, case_id)
        silence = [r for r in rows if r["type"] == "accepted_by_silence"]
        assert [(r["actor"], r["at"]) for r in silence] == [("system", met)]
        surveys = await eventually(
            lambda: notification_rows(
                pool, case_id, audience="customer", kind="survey"
            ),
            lambda r: len(r) == 1,
            "survey sent",
        )
        assert surveys[0]["recipient"] == "cust-1"


async def test_low_rating_escalates_and_opens_a_quality_review(
    env, pool, policy
) -> None:
    case_id = case_id_with_sample("lc-low-csat", in_sample=False)
    async with running_cases(env, pool, policy) as cases:
        await cases.open(general_intake(case_id=case_id))
        await cases.resolve(case_id)
        await cases.act(case_id, "confirm")
        rated = await cases.act(case_id, "rate", {"score": 2, "comment": "slow"})
        assert rated.rating == 2 and rated.quality_review is True
        assert (rated.escalation_level, rated.escalations) == (2, 1)
        assert rated.status == Status.FOLLOW_UP
        assert rated.follow_up is not None
        assert (rated.follow_up.required, rated.follow_up.reason) == (
            True,
            "low_rating",
        )
        escalated = await wait_notifications(
            pool, case_id, 1, audience="supervisor", kind="escalation"
        )
        assert [r["recipient"] for r in escalated] == ["regional-supervisor"]
        assert escalated[0]["subject"] == (
            "Escalated to level 2 (regional service center): low satisfaction rating 2"
        )
        await _finish_with_follow_up_after_rating(cases, case_id)
        final = await cases.result(case_id)
    assert final.status == Status.CLOSED
    trail = await assert_gapless_trail(pool, final)
    i = trail.index(("rated", None))
    assert trail[i : i + 4] == [
        ("rated", None),
        ("quality_review_opened", None),
        ("escalated", None),
        ("notification_queued", "escalation"),
    ]
    row = await case_row(pool, case_id)
    assert (row["rating"], row["quality_review"], row["follow_up_reason"]) == (
        2,
        True,
        "low_rating",
    )
    survey = await pool.fetchrow(
        "SELECT score FROM surveys WHERE case_id = $1", case_id
    )
    assert survey is not None and survey["score"] == 2


async def test_problem_recurred_at_follow_up_reopens(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(complex_intake())
        case_id = opened.case_id
        await cases.resolve(case_id, kind="explanation", amount="")
        await cases.act(case_id, "confirm")
        rated = await cases.act(case_id, "rate", {"score": 4})
        assert rated.follow_up is not None and rated.follow_up.reason == "tier"
        booked = await cases.wait_follow_up_booked(case_id)
        assert booked.resolved_at is not None
        await advance_to(env, booked.resolved_at + 7 * 24 * HOUR)
        reopened = await cases.act(
            case_id,
            "follow_up_result",
            {"outcome": "recurred", "note": "noise is back"},
        )
        t = reopened.clocks[FR].started_at
        assert t >= booked.resolved_at + 7 * 24 * HOUR
        assert reopened.status == Status.REGISTERED
        assert reopened.reopen_count == 1
        assert (reopened.follow_up, reopened.resolution, reopened.rating is None) == (
            None,
            None,
            False,
        )
        for name, hours in ((FR, 24), (IH, 48), (RES, 72)):
            assert reopened.clocks[name].started_at == t
            assert reopened.clocks[name].due_at == t + hours * HOUR
        # The workflow keeps running the new round.
        acked = await cases.act(case_id, "acknowledge")
        assert (
            acked.status == Status.ACKNOWLEDGED and acked.first_response_at is not None
        )
    events = [r["type"] for r in await audit_trail(pool, case_id)]
    i = events.index("follow_up_result")
    assert events[i : i + 2] == ["follow_up_result", "reopened"]


async def test_withdraw_closes_the_case(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "acknowledge")
        await advance_to(env, state.opened_at + HOUR)
        withdrawn = await cases.act(case_id, "withdraw", {"reason": "bought another"})
        t = withdrawn.closed_at
        assert withdrawn.status == Status.WITHDRAWN and t is not None
        for name in (IH, RES, CL):
            assert withdrawn.clocks[name].stopped_at == t, name
            assert withdrawn.clocks[name].due_at is None
        assert withdrawn.clocks[FR].state == ClockState.MET
        final = await cases.result(case_id)
        status, _ = await execution(env.client, opened.workflow_id)
    assert status == WorkflowExecutionStatus.COMPLETED
    assert final.status == Status.WITHDRAWN and final.closed_at == t
    trail = await assert_gapless_trail(pool, final)
    assert trail[-1] == ("withdrawn", None)
    row = await case_row(pool, case_id)
    assert (row["status"], row["closed_at"], row["last_seq"]) == (
        "withdrawn",
        t,
        final.last_seq,
    )


# =============================================================================================
# Continue-as-new and duplicate starts


def carried(state: CaseState) -> dict[str, Any]:
    return {
        "escalations": state.escalations,
        "escalation_level": state.escalation_level,
        "last_seq": state.last_seq,
        "reopen_count": state.reopen_count,
        "handler": state.handler,
        "clocks": {
            n.value: (c.state, c.due_at, c.warn_at, c.started_at)
            for n, c in state.clocks.items()
        },
    }


async def test_continue_as_new_keeps_clocks_and_counters(env, pool, policy) -> None:
    # How many history events each action costs depends on the machine (a slow worker adds
    # workflow task timeouts), so the cut may fall after any action. The test does not guess
    # where: it finds the cut, and checks the carried state against what the actions applied
    # before it must have produced.
    case_id = case_id_with_sample("lc-continue", in_sample=False)
    actions: list[tuple[str, dict[str, Any]]] = [
        ("escalate", {"actor": "agent-1", "reason": "angry customer"}),
        ("assign", {"handler": "agent-2", "team": "returns"}),
        ("note", {"text": "waiting for the warehouse"}),
        ("escalate", {"actor": "agent-2", "reason": "press enquiry"}),
        ("assign", {"handler": "agent-3"}),
    ] + [("note", {"text": f"note {i}"}) for i in range(30)]
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(
            general_intake(case_id=case_id), run=CaseRun(history_limit=40)
        )
        o = state.opened_at
        before = after = None
        applied: list[tuple[str, dict[str, Any]]] = []
        for action, data in actions:
            returned = await cases.act(case_id, action, data)
            applied.append((action, data))
            await cases.settle(case_id)
            current = await cases.client.wait_for_state(case_id)
            if current.runs > returned.runs:
                before, after = returned, current
                break
        assert before is not None and after is not None, (
            "the run never continued as new"
        )
        assert after.runs == before.runs + 1 == 2
        assert after.model_dump(exclude={"runs"}) == before.model_dump(exclude={"runs"})
        assert carried(after) == carried(before)
        escalated = sum(1 for action, _ in applied if action == "escalate")
        handlers = [data["handler"] for action, data in applied if action == "assign"]
        assert after.escalations == escalated
        assert after.escalation_level == max(1, policy.escalation.start_level[Tier.GENERAL] - escalated)
        assert after.handler == (handlers[-1] if handlers else None)
        _, run_id = await execution(env.client, opened.workflow_id)
        assert run_id != opened.run_id

        # The actions not yet sent go to the new run, which counts on from the carried state.
        for action, data in actions[len(applied):]:
            if action == "note":
                break
            await cases.act(case_id, action, data)
            await cases.settle(case_id)
            applied.append((action, data))
        resumed = await cases.client.wait_for_state(case_id)
        assert resumed.escalations == sum(1 for action, _ in applied if action == "escalate")
        assert resumed.handler == next(d["handler"] for a, d in reversed(applied) if a == "assign")

        # The carried clocks still fire on time in the new run.
        await advance_to(env, o + 19.2 * HOUR + SECOND)
        warned = await cases.wait(
            case_id, lambda s: s.clocks[FR].warned_at is not None, "FR warning"
        )
        assert warned.clocks[FR].warned_at == o + 19.2 * HOUR

        for action, data in [
            ("acknowledge", {}),
            ("propose_resolution", {"type": "explanation", "note": "within spec"}),
        ]:
            await cases.act(case_id, action, data)
            await cases.settle(case_id)
        await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        await cases.act(case_id, "confirm")
        await cases.settle(case_id)
        await cases.act(case_id, "rate", {"score": 5})
        final = await cases.result(case_id)

    assert final.status == Status.CLOSED and final.runs >= 2
    assert final.escalation_level == resumed.escalation_level
    await assert_gapless_trail(pool, final)
    row = await case_row(pool, case_id)
    assert (row["status"], row["last_seq"]) == ("closed", final.last_seq)


async def test_duplicate_start_returns_the_same_case(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        case = general_intake()
        first, state = await cases.open(case)
        second, _ = await cases.open(
            case.model_copy(update={"description": "A second message."})
        )
        assert first.created is True and second.created is False
        assert (
            second.case_id == first.case_id and second.workflow_id == first.workflow_id
        )
        assert second.run_id == first.run_id and first.run_id is not None
        status, run_id = await execution(env.client, first.workflow_id)
        assert (status, run_id) == (WorkflowExecutionStatus.RUNNING, first.run_id)
        now_state = await cases.state(first.case_id)
        assert now_state.intake.description == case.description
        assert now_state.opened_at == state.opened_at
        opened_events = await pool.fetchval(
            "SELECT count(*) FROM case_events WHERE case_id = $1 AND type = 'opened'",
            first.case_id,
        )
        assert opened_events == 1
        history = [
            e async for e in cases.client.handle(first.case_id).fetch_history_events()
        ]
        starts = [
            e
            for e in history
            if e.HasField("workflow_execution_started_event_attributes")
        ]
        assert len(starts) == 1


# =============================================================================================
# Refused actions leave the case as it was


async def assert_refused(
    cases: Cases,
    case_id: str,
    action: str,
    data: dict[str, Any],
    message: str,
    *,
    at_rest: bool = True,
) -> CaseState:
    if at_rest:
        await cases.settle(case_id)
    before = await cases.state(case_id)
    with pytest.raises(CaseError) as refused:
        await cases.act(case_id, action, data)
    assert message in str(refused.value)
    after = await cases.state(case_id)
    assert after.model_dump() == before.model_dump()
    row = await case_row(cases.pool, case_id)
    assert row["last_seq"] == before.last_seq
    return after


async def test_refused_actions_before_a_resolution(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await assert_refused(
            cases,
            case_id,
            "approve",
            {},
            "approve is not allowed while the case is registered",
        )
        await assert_refused(
            cases,
            case_id,
            "customer_reply",
            {"text": "hi"},
            "customer_reply is not allowed while the case is registered",
        )
        await cases.act(case_id, "acknowledge")
        await assert_refused(
            cases,
            case_id,
            "approve",
            {},
            "approve is not allowed while the case is acknowledged",
        )
        await assert_refused(
            cases,
            case_id,
            "confirm",
            {},
            "confirm is not allowed while the case is acknowledged",
        )
        await assert_refused(
            cases,
            case_id,
            "customer_reply",
            {"text": "hi"},
            "customer_reply is not allowed while the case is acknowledged",
        )
        await assert_refused(
            cases,
            case_id,
            "follow_up_result",
            {"outcome": "satisfied"},
            "follow_up_result is not allowed while the case is acknowledged",
        )
        await assert_refused(
            cases,
            case_id,
            "rate",
            {"score": 5},
            "rate is not allowed while the case is acknowledged",
        )


async def test_confirm_is_refused_while_resolving(env, pool, policy) -> None:
    class GatedRefunds:
        def __init__(self) -> None:
            self.ledger = LedgerRefunds(pool)
            self.started = asyncio.Event()
            self.release = asyncio.Event()

        async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
            self.started.set()
            await self.release.wait()
            return await self.ledger.execute(movement)

        async def reverse(self, reversal: Reversal) -> ReversalResult:
            return await self.ledger.reverse(reversal)

    gated = GatedRefunds()
    async with running_cases(env, pool, policy, refunds=gated) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "acknowledge")
        await cases.act(
            case_id, "propose_resolution", {"type": "refund", "amount": "50"}
        )
        try:
            await asyncio.wait_for(gated.started.wait(), 10)
            resolving = await assert_refused(
                cases,
                case_id,
                "confirm",
                {},
                "confirm is not allowed while the case is resolving",
                at_rest=False,  # the refund is held mid-flight on purpose
            )
            assert resolving.status == Status.RESOLVING
            await assert_refused(
                cases,
                case_id,
                "withdraw",
                {},
                "withdraw is not allowed while the case is resolving",
                at_rest=False,
            )
        finally:
            gated.release.set()
        resolved = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert (await cases.act(case_id, "confirm")).status == Status.AWAITING_RATING
        assert resolved.resolution is not None


async def test_rating_out_of_range_is_refused_by_client_and_workflow(
    env, pool, policy
) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.resolve(case_id)
        await cases.act(case_id, "confirm")
        await assert_refused(
            cases,
            case_id,
            "follow_up_result",
            {"outcome": "satisfied"},
            "follow_up_result is not allowed while the case is awaiting_rating",
        )
        before = await cases.state(case_id)
        assert before.status == Status.AWAITING_RATING

        with pytest.raises(CaseError) as refused:
            await cases.act(case_id, "rate", {"score": 6})
        assert str(refused.value).startswith("rate.score")
        assert (await cases.state(case_id)).model_dump() == before.model_dump()

        handle = cases.client.handle(case_id)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update("rate", {"score": 6})
        after = await cases.state(case_id)
        assert after.model_dump() == before.model_dump()
        status, _ = await execution(env.client, opened.workflow_id)
        assert status == WorkflowExecutionStatus.RUNNING

        rated = await cases.act(case_id, "rate", {"score": 5})
        assert rated.rating == 5


async def test_escalate_is_refused_at_headquarters(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(urgent_intake())
        case_id = opened.case_id
        assert state.escalation_level == 2
        up = await cases.act(
            case_id, "escalate", {"actor": "agent-1", "reason": "press"}
        )
        assert (up.escalation_level, up.escalations) == (1, 1)
        await assert_refused(
            cases,
            case_id,
            "escalate",
            {"reason": "again"},
            "escalate: the case is already at level 1",
        )


async def test_actions_on_a_withdrawn_case_are_refused(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, _ = await cases.open(general_intake())
        case_id = opened.case_id
        await cases.act(case_id, "withdraw", {"reason": "changed my mind"})
        final = await cases.result(case_id)
        assert final.status == Status.WITHDRAWN
        before = await cases.state(case_id)
        assert before.model_dump() == final.model_dump()
        for action, data in [
            ("acknowledge", {}),
            ("note", {"text": "late note"}),
            ("escalate", {"reason": "late"}),
            ("withdraw", {}),
            ("propose_resolution", {"type": "refund", "amount": "10"}),
        ]:
            with pytest.raises(CaseError):
                await cases.act(case_id, action, data)
            assert (await cases.state(case_id)).model_dump() == before.model_dump(), (
                action
            )
    row = await case_row(pool, case_id)
    assert (row["status"], row["last_seq"]) == ("withdrawn", final.last_seq)
