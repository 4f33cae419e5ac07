"""Review and what follows a resolution: rejection, the approval clock, disputes, silence, low
ratings, a recurrence at follow-up, and withdrawal.

Each test runs its own worker (fresh task queue) against the module's time-skipping Temporal
server and the session's embedded PostgreSQL. Time only moves through `env.sleep`; every expected
instant is computed from the case's `opened_at` (or the instant of the action that restarted a
clock) and the policy snapshot's calendar.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from temporalio.client import WorkflowExecutionStatus

from cases.models import (
    ClockState,
    Status,
)
from tests.integration.lifecycle.shared import (
    HANDLING,
    SECOND,
    complex_intake,
    finish_with_follow_up_after_rating,
    general_intake,
    schedule,
    walk,
)
from tests.support.lifecycle_helpers import (
    AP,
    CL,
    FR,
    HOUR,
    IH,
    RES,
    advance_to,
    assert_clock_schedule,
    assert_gapless_trail,
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
        await finish_with_follow_up_after_rating(cases, case_id)
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
