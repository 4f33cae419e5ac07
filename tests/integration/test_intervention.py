"""The platform steps in, on the time-skipping server, one second before and one second after each
due instant: the buyer's window to ask, the merchant's evidence window, four working hours across
a night and a weekend, a ruling not carried out (the platform pays first and recovers), and the
appeal window. Money is read back from the refunds ledger and the merchant ledger in PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cases.intervention.models import Stage
from cases.models import CaseState, ClockName, Status
from starter.client import CaseError
from tests.support.factories import intake
from tests.support.lifecycle_helpers import Cases, advance_to, now, refund_rows, running_cases

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ARBITER = {"role": "arbiter"}


async def rejected(cases: Cases, env: Any, amount: str = "2000.00") -> CaseState:
    """Perishable goods the law does not entitle to a return; the merchant declines."""
    order = {"signed_at": (await now(env) - DAY).isoformat(), "goods_class": "perishable"}
    opened, _ = await cases.open(intake(order_amount=amount, request={
        "remedy": "return_refund", "reason": "no_reason", "order": order}))
    return await cases.act(opened.case_id, "answer_request",
                           {"actor": "merchant-1", "decision": "reject", "reason": "fresh food"})


async def heard(cases: Cases, env: Any, amount: str = "2000.00") -> CaseState:
    state = await rejected(cases, env, amount)
    await cases.act(state.case_id, "ask_intervention", {"reason": "it arrived rotten", "references": ["IMG-1"]})
    return await cases.act(state.case_id, "submit_evidence",
                           {"actor": "merchant-1", "party": "merchant", "text": "it left fresh"})


def stage(state: CaseState) -> Stage:
    assert state.intervention is not None
    return state.intervention.stage


def due(state: CaseState, name: ClockName) -> datetime:
    at = state.clocks[name].due_at
    assert at is not None
    return at


async def test_the_buyers_window_to_ask_closes(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        first, second = await rejected(cases, env), await rejected(cases, env)
        assert first.request is not None and first.request.answered_at is not None
        ends = first.request.answered_at + 15 * DAY
        await advance_to(env, ends - SECOND)
        asked = await cases.act(first.case_id, "ask_intervention", {"reason": "please look"})
        assert stage(asked) == Stage.EVIDENCE
        await advance_to(env, ends + SECOND)
        with pytest.raises(CaseError, match="window after the merchant's rejection ended"):
            await cases.act(second.case_id, "ask_intervention", {"reason": "too late"})
        assert (await cases.state(second.case_id)).intervention is None


async def test_the_merchants_24_hour_evidence_window(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await rejected(cases, env)
        asked = await cases.act(state.case_id, "ask_intervention", {"reason": "please look"})
        ends = due(asked, ClockName.INTERVENTION_EVIDENCE)
        assert ends == asked.clocks[ClockName.INTERVENTION_EVIDENCE].started_at + DAY
        await advance_to(env, ends - SECOND)
        assert stage(await cases.state(state.case_id)) == Stage.EVIDENCE
        await advance_to(env, ends + SECOND)
        hearing = await cases.wait(state.case_id, lambda s: stage(s) == Stage.HEARING, "heard")
        assert hearing.clocks[ClockName.INTERVENTION_EVIDENCE].breached_at == ends
        held = await pool.fetchrow("SELECT held_at, released_at FROM settlement_holds WHERE case_id = $1",
                                   state.case_id)
        assert held is not None and held["released_at"] is None  # the order's settlement is held


def _friday_evening(after: datetime, snapshot: Any) -> datetime:
    """The first Friday 17:00 in Shanghai after `after` whose weekend is off and Monday worked."""
    day = after.astimezone(SHANGHAI).date() + timedelta(days=1)
    calendar = snapshot.calendar
    def fits(friday: Any) -> bool:
        worked = [calendar.is_working_day(friday + timedelta(days=n)) for n in range(4)]
        return friday.weekday() == 4 and worked == [True, False, False, True]

    while not fits(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(17), tzinfo=SHANGHAI)


async def test_four_working_hours_span_a_night_and_a_weekend(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await heard(cases, env)
        friday = _friday_evening(await now(env), cases.snapshot(state))
        await advance_to(env, friday)
        asked = await cases.act(state.case_id, "request_evidence",
                                {"actor": "arbiter-1", "party": "buyer", "question": "A photo?", **ARBITER})
        ends = due(asked, ClockName.BUYER_MORE_EVIDENCE)
        started = asked.clocks[ClockName.BUYER_MORE_EVIDENCE].started_at
        # The hour left on Friday, then three on Monday morning.
        monday = friday.date() + timedelta(days=3)
        assert ends == started + (datetime.combine(monday, time(12), tzinfo=SHANGHAI) - friday)
        assert ends.astimezone(SHANGHAI).date() == monday
        await advance_to(env, ends - SECOND)
        waiting = await cases.state(state.case_id)
        assert waiting.intervention is not None and waiting.intervention.awaited
        await advance_to(env, ends + SECOND)
        closed = await cases.wait(state.case_id, lambda s: s.intervention is not None and not s.intervention.awaited,
                                  "the buyer's window closed")
        assert closed.clocks[ClockName.BUYER_MORE_EVIDENCE].breached_at == ends


async def test_a_ruling_not_carried_out_is_paid_by_the_platform_and_recovered(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await heard(cases, env)
        case_id = state.case_id
        ruled = await cases.act(case_id, "rule", {"actor": "arbiter-1", "decision": "refund", "amount": "500",
                                                  "reason": "rotten on arrival", **ARBITER})
        ends = due(ruled, ClockName.RULING_CARRY_OUT)
        await advance_to(env, ends - SECOND)
        assert stage(await cases.state(case_id)) == Stage.CARRYING_OUT
        assert await refund_rows(pool, case_id) == []
        await advance_to(env, ends + SECOND)
        paid = await cases.wait_status(case_id, Status.AWAITING_CONFIRMATION)
        assert stage(paid) == Stage.PLATFORM_PAID
        [refund] = await refund_rows(pool, case_id)
        assert (refund["key"], refund["kind"], refund["amount"]) == (
            f"{case_id}:p1:platform_refund", "platform_refund", Decimal("500.00"))
        ledger = await _ledger(pool, case_id)
        assert ledger == [("platform_payout", Decimal("500.00")), ("recovery", Decimal("500.00"))]

        # The merchant's refund, a day late, pays no one: it settles the recovery.
        await cases.act(case_id, "carry_out_ruling", {"actor": "merchant-1", "note": "paid late"})
        settled = await cases.wait(case_id, lambda s: s.intervention is not None and s.intervention.recovery_settled,
                                   "settled")
        assert len(await refund_rows(pool, case_id)) == 1
        assert settled.paid_out == Decimal("500.00")
        assert (await _ledger(pool, case_id))[-1] == ("recovery_settled", Decimal("500.00"))
        balance = await pool.fetchrow(
            "SELECT sum(amount) FILTER (WHERE kind = 'platform_payout') AS payouts,"
            " sum(amount) FILTER (WHERE kind = 'recovery') - sum(amount) FILTER (WHERE kind = 'recovery_settled')"
            " AS open, sum(amount) FILTER (WHERE kind = 'recovery_settled') AS settled"
            " FROM merchant_ledger WHERE case_id = $1", case_id)
        assert balance["payouts"] == balance["open"] + balance["settled"] == Decimal("500.00")


async def _ledger(pool: Any, case_id: str) -> list[tuple[str, Decimal]]:
    rows = await pool.fetch("SELECT kind, amount FROM merchant_ledger WHERE case_id = $1 ORDER BY at, key", case_id)
    return [(r["kind"], r["amount"]) for r in rows]


async def test_the_appeal_window_and_who_may_hear_it(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        first, second = await heard(cases, env), await heard(cases, env)
        for state in (first, second):
            await cases.act(state.case_id, "rule", {"actor": "arbiter-1", "decision": "reject",
                                                    "reason": "not rotten", **ARBITER})
        ruled = await cases.state(first.case_id)
        assert ruled.intervention is not None and ruled.intervention.ruling is not None
        ends = ruled.intervention.ruling.at + 7 * DAY
        await advance_to(env, ends - SECOND)
        appealed = await cases.act(first.case_id, "appeal", {"reason": "look again"})
        assert stage(appealed) == Stage.HEARING
        with pytest.raises(CaseError, match="cannot hear its appeal") as same:
            await cases.act(first.case_id, "rule", {"actor": "arbiter-1", "decision": "reject", "reason": "x",
                                                    **ARBITER})
        assert same.value.kind == "forbidden"
        await advance_to(env, ends + SECOND)
        with pytest.raises(CaseError, match="appeal"):
            await cases.act(second.case_id, "appeal", {"reason": "too late"})
        final = await cases.wait(second.case_id, lambda s: stage(s) == Stage.CLOSED, "closed")
        assert final.intervention is not None and final.intervention.final
        released = await pool.fetchval("SELECT released_at FROM settlement_holds WHERE case_id = $1", second.case_id)
        assert released is not None


async def test_a_2500_ruling_needs_a_second_arbiter(env, pool, policy) -> None:
    async with running_cases(env, pool, policy) as cases:
        state = await heard(cases, env, amount="3000.00")
        case_id = state.case_id
        ruling = {"actor": "arbiter-1", "decision": "refund", "amount": "2500", "reason": "rotten", **ARBITER}
        pending = await cases.act(case_id, "rule", ruling)
        assert stage(pending) == Stage.SECOND_ARBITER
        with pytest.raises(CaseError, match="second arbiter must confirm") as alone:
            await cases.act(case_id, "confirm_ruling", {"actor": "arbiter-1", **ARBITER})
        assert alone.value.kind == "forbidden"
        with pytest.raises(CaseError, match="an arbiter's"):
            await cases.act(case_id, "confirm_ruling", {"actor": "agent-1", "role": "agent"})
        done = await cases.act(case_id, "confirm_ruling", {"actor": "arbiter-2", **ARBITER})
        assert stage(done) == Stage.CARRYING_OUT
        assert done.intervention is not None and done.intervention.arbiters == ["arbiter-1", "arbiter-2"]
