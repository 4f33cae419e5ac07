"""The merchant's duties on the time-skipping server, one second before and one second after each
due instant: the answer to a request, the delivered return, and the buyer's window to ship.

Every money movement is read back from the refunds ledger in PostgreSQL, so "one refund" is what
the ledger holds, not what the case says.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from activities.contracts import ItemQuery
from activities.item_history import MemoryRepairRecord, PostgresRepairRecord
from cases.models import CaseState, ClockName, ClockState, Status
from cases.platform.models import Answer
from starter.client import CaseError
from tests.support.factories import intake
from tests.support.lifecycle_helpers import (
    Cases,
    advance_to,
    audit_trail,
    now,
    refund_rows,
    running_cases,
    wait_notifications,
)

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
ANSWER = ClockName.MERCHANT_ANSWER
DELIVERED = ClockName.DELIVERED_RETURN
RW = ClockName.RETURN_WINDOW


def asking(remedy: str, signed_at: datetime, reason: str = "no_reason", **facts: Any) -> Any:
    order = {"signed_at": signed_at.isoformat()} | facts
    return intake(order_amount="300.00", request={"remedy": remedy, "reason": reason, "order": order})


def due_of(state: CaseState, name: ClockName) -> datetime:
    due = state.clocks[name].due_at
    assert due is not None
    return due


async def agreed_return(cases: Cases, env: Any) -> CaseState:
    opened, state = await cases.open(asking("return_refund", await now(env) - DAY))
    agreed = await cases.act(opened.case_id, "answer_request", {"actor": "merchant-1", "decision": "agree"})
    assert agreed.status == Status.AWAITING_RETURN
    return agreed


async def test_silence_on_a_refund_only_request_refunds_once(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(asking("refund_only", await now(env) - DAY, "not_received"))
        case_id = opened.case_id
        due = due_of(state, ANSWER)
        assert due == state.opened_at + 48 * timedelta(hours=1)
        await advance_to(env, due - SECOND)
        waiting = await cases.state(case_id)
        assert waiting.request is not None and waiting.request.pending
        assert await refund_rows(pool, case_id) == []
        await advance_to(env, due + SECOND)
        done = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert done.request is not None and done.request.answer == Answer.AGREED_BY_SILENCE
        [refund] = await refund_rows(pool, case_id)
        assert (refund["key"], refund["amount"]) == (f"{case_id}:p1:refund", Decimal("300.00"))
        assert done.clocks[ANSWER].state == ClockState.BREACHED
        await wait_notifications(pool, case_id, 1, audience="customer", kind="request_agreed")


async def test_silence_on_a_return_request_authorises_the_return(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, state = await cases.open(asking("return_refund", await now(env) - DAY))
        case_id = opened.case_id
        due = due_of(state, ANSWER)
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).status == Status.REGISTERED
        await advance_to(env, due + SECOND)
        returning = await cases.wait_status(case_id, Status.AWAITING_RETURN)
        assert returning.return_leg is not None and returning.return_leg.address == policy.returns.address
        await wait_notifications(pool, case_id, 1, audience="customer", kind="return_authorized")
        assert await refund_rows(pool, case_id) == []


async def test_silence_after_delivery_refunds_once(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await agreed_return(cases, env)
        case_id = state.case_id
        await cases.act(case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": "SF1029384756"})
        delivered = await cases.act(case_id, "return_delivered", {"actor": "sf-express"})
        due = due_of(delivered, DELIVERED)
        assert due == delivered.clocks[DELIVERED].started_at + 7 * DAY
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).status == Status.RETURN_IN_TRANSIT
        assert await refund_rows(pool, case_id) == []
        await advance_to(env, due + SECOND)
        done = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        [refund] = await refund_rows(pool, case_id)
        assert (refund["key"], refund["amount"]) == (f"{case_id}:p1:refund", Decimal("300.00"))
        assert done.return_leg is not None and done.return_leg.passed_by_silence
        assert done.clocks[DELIVERED].state == ClockState.BREACHED


async def test_the_buyers_window_to_ship_lapses(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await agreed_return(cases, env)
        case_id = state.case_id
        due = due_of(state, RW)
        await advance_to(env, due - SECOND)
        assert (await cases.state(case_id)).status == Status.AWAITING_RETURN
        await advance_to(env, due + SECOND)
        lapsed = await cases.result(case_id)
        assert (lapsed.status, lapsed.closed_at) == (Status.LAPSED, due)
        assert await refund_rows(pool, case_id) == []


async def test_a_rejection_of_an_eligible_request_is_refused_and_recorded(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        opened, before = await cases.open(asking("return_refund", await now(env) - DAY))
        case_id = opened.case_id
        with pytest.raises(CaseError, match="Consumer Rights Protection Law art. 25") as refused:
            await cases.client.act(case_id, "answer_request", {"actor": "merchant-1", "decision": "reject",
                                                               "reason": "we do not take returns"})
        assert refused.value.kind == "forbidden"
        after = await cases.state(case_id)
        assert after.request == before.request and after.status == before.status
        assert after.clocks[ANSWER] == before.clocks[ANSWER]
        trail = await audit_trail(pool, case_id)
        assert ("rejection_refused", "merchant-1") in [(r["type"], r["actor"]) for r in trail]


async def test_the_item_s_earlier_repairs_are_read_at_open_and_at_a_later_request(env, pool, policy) -> None:
    record = MemoryRepairRecord({("default", "SKU-7", "SN-1"): 2})
    facts = {"three_guarantees": True, "warranty_ends": "2099-12-31", "sku": "SKU-7", "serial": "SN-1"}
    async with running_cases(env, pool, policy, repairs=record) as cases:
        signed = await now(env) - 60 * DAY
        _, state = await cases.open(asking("exchange", signed, "quality_fault", **facts))
        assert state.item_repairs is not None and state.item_repairs.repairs == 2
        assert state.request is not None and state.request.eligibility.rule == "three_guarantees_after_repairs"

        opened, _ = await cases.open(intake(order_amount="300.00"))
        later = await cases.act(opened.case_id, "request_remedy", {
            "remedy": "return_refund", "reason": "quality_fault",
            "order": {"signed_at": signed.isoformat()} | facts,
        })
        assert later.request is not None and later.request.eligibility.rule == "three_guarantees_after_repairs"


async def test_the_record_counts_repairs_of_the_same_item_in_the_merchants_cases(conn) -> None:
    for case_id, _merchant, serial, repairs in (
        ("r1", "default", "SN-1", 1), ("r2", "default", "SN-1", 1), ("r3", "default", "SN-2", 1),
        ("acme~r4", "acme", "SN-1", 3), ("r5", "default", "SN-1", 0),
    ):
        state = {"order": {"sku": "SKU-7", "serial": serial}}
        await conn.execute(
            "INSERT INTO cases (case_id, workflow_id, order_id, customer_id, customer_tier, channel,"
            " category, tier, status, escalation_level, order_amount, currency, opened_at, sla_state,"
            " last_seq, state) VALUES ($1, $1, 'o', 'c', 'standard', 'app', 'other', 'general', 'closed',"
            " 3, 1, 'CNY', now(), 'met', 1, $2::jsonb)",
            case_id, json.dumps(state),
        )
        for seq in range(1, repairs + 1):
            await conn.execute(
                "INSERT INTO case_events (case_id, seq, type, actor, at, data)"
                " VALUES ($1, $2, 'repair_result', 't', now(), '{}')", case_id, seq,
            )
    counter = PostgresRepairRecord(conn)
    assert await counter.repairs(ItemQuery(merchant_id="default", sku="SKU-7", serial="SN-1")) == 2
    assert await counter.repairs(ItemQuery(merchant_id="default", sku="SKU-7", serial="SN-2")) == 1
    assert await counter.repairs(ItemQuery(merchant_id="acme", sku="SKU-7", serial="SN-1")) == 3
    assert await counter.repairs(ItemQuery(merchant_id="default", sku="SKU-8", serial="SN-1")) == 0
