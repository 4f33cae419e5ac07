"""Happy paths, one per tier: what each records, in order, and what it costs.

Each test runs its own worker (fresh task queue) against the module's time-skipping Temporal
server and the session's embedded PostgreSQL. Time only moves through `env.sleep`; every expected
instant is computed from the case's `opened_at` (or the instant of the action that restarted a
clock) and the policy snapshot's calendar.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cases.models import (
    ClockState,
    FollowUpOutcome,
    ResolutionType,
    Status,
    Tier,
)
from tests.integration.lifecycle.shared import (
    ACKNOWLEDGED,
    APPROVAL_REQUESTED,
    APPROVED,
    CONFIRMED,
    EXECUTED,
    HANDLING,
    OPENING,
    PROPOSED,
    complex_intake,
    finish_with_follow_up,
    finish_with_follow_up_after_rating,
    general_intake,
    urgent_intake,
)
from tests.support.lifecycle_helpers import (
    AP,
    CL,
    FR,
    HOUR,
    assert_gapless_trail,
    case_id_with_sample,
    case_row,
    notification_rows,
    refund_rows,
    running_cases,
)


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
        await finish_with_follow_up_after_rating(cases, case_id)
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
        done = await finish_with_follow_up(cases, case_id, score=4)
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
        done = await finish_with_follow_up(cases, case_id, score=5)
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
