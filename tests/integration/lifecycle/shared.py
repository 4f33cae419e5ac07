"""What the lifecycle tests share: the events each step records, intakes by tier, and walking a
case's clocks through their instants."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cases.clocks import specs
from cases.models import (
    CaseState,
    ClockName,
    ClockState,
    Status,
)
from tests.support.factories import intake
from tests.support.lifecycle_helpers import (
    CL,
    FR,
    IH,
    RES,
    Cases,
    advance_to,
    assert_breached,
    assert_warned,
    notification_rows,
    wait_notifications,
)

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


async def finish_with_follow_up_after_rating(cases: Cases, case_id: str) -> CaseState:
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


async def finish_with_follow_up(cases: Cases, case_id: str, score: int) -> CaseState:
    rated = await cases.act(case_id, "rate", {"score": score})
    assert rated.status == Status.FOLLOW_UP
    return await finish_with_follow_up_after_rating(cases, case_id)



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
        label = specs.LABELS[name]
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
