"""Continue-as-new keeps everything, a second start finds the running case, and actions that do
not fit are refused without changing it.

Each test runs its own worker (fresh task queue) against the module's time-skipping Temporal
server and the session's embedded PostgreSQL. Time only moves through `env.sleep`; every expected
instant is computed from the case's `opened_at` (or the instant of the action that restarted a
clock) and the policy snapshot's calendar.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from activities.contracts import (
    MoneyMovement,
    MoneyMovementResult,
    Reversal,
    ReversalResult,
)
from activities.refunds import LedgerRefunds
from cases.models import (
    CaseState,
    Status,
    Tier,
)
from starter.client import CaseError
from tests.integration.lifecycle.shared import (
    SECOND,
    general_intake,
    urgent_intake,
)
from tests.support.lifecycle_helpers import (
    FR,
    HOUR,
    Cases,
    advance_to,
    assert_gapless_trail,
    case_id_with_sample,
    case_row,
    execution,
    running_cases,
)
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseRun


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
            await cases.act(case_id, action, data)
            applied.append((action, data))
            await cases.settle(case_id)
            current = await cases.client.wait_for_state(case_id)
            if current.runs > 1:
                # The first run, closed by continuing as new, still answers the query from its history.
                first = cases.client.client.get_workflow_handle(opened.workflow_id, run_id=opened.run_id)
                before, after = await first.query(AfterSalesCase.state), current
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
