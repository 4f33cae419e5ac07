"""Two merchants, each with its own policy over the platform's: their cases run on their own
targets, working calendars and return addresses, and breach at the exact instants those give.

The merchants' policies are stored in PostgreSQL as platform staff store them; the worker lays each
over the platform's when a case opens. Time only moves through the time-skipping server.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from activities.merchants import MerchantRegistry
from cases.models import ClockState, Status
from cases.policy.merchant import merged, parse_overlay
from cases.policy.snapshot import Policy
from tests.integration.lifecycle.shared import SHANGHAI, general_intake
from tests.support.lifecycle_helpers import CL, FR, advance_to, business_due, running_cases, working_days


def _policies(free_day: date) -> dict[str, str]:
    return {
        "fast": f"""
            [targets.general]
            first_response = "2h"
            [calendar]
            extra_workdays = [{free_day.isoformat()}]
            [returns]
            address = "Fast Returns, 8 Quay Road, Ningbo"
        """,
        "slow": """
            [targets.general]
            first_response = "12h"
            [returns]
            address = "Slow Returns, 2 Hill Street, Chengdu"
        """,
    }


def _first_day_off(policy: Policy, after: date) -> date:
    """The first day after `after` that the platform does not work: a weekend day or a holiday."""
    calendar = policy.snapshot(datetime.combine(after, time(12), SHANGHAI)).calendar
    day = after + timedelta(days=1)
    while calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


async def test_each_merchants_case_runs_on_its_own_policy(env, pool, policy) -> None:  # type: ignore[no-untyped-def]
    run = uuid.uuid4().hex[:6]
    registry = MerchantRegistry(pool)
    today = (await env.get_current_time()).astimezone(SHANGHAI).date()
    texts = _policies(_first_day_off(policy, today))
    merchants = {name: f"{name}-{run}" for name in texts}
    for name, merchant in merchants.items():
        await registry.add(merchant, name.title())
        await registry.set_policy(merchant, texts[name], policy)

    async with running_cases(env, pool, policy) as cases:
        states = {}
        for name, merchant in merchants.items():
            opened, states[name] = await cases.open(general_intake(case_id=f"same-{run}", merchant_id=merchant))
            assert opened.case_id == f"{merchant}~same-{run}"
        fast, slow = states["fast"], states["slow"]

        # First response: each merchant's own target, from each case's own opening.
        fast_due = fast.opened_at + timedelta(hours=2)
        slow_due = slow.opened_at + timedelta(hours=12)
        assert (fast.clocks[FR].due_at, slow.clocks[FR].due_at) == (fast_due, slow_due)

        # Closure, 7 working days: the fast merchant works a day the platform has off.
        own = {n: merged(policy, parse_overlay(t)).snapshot(states[n].opened_at) for n, t in texts.items()}
        expected = {n: business_due(own[n], states[n].opened_at, working_days(7)) for n in texts}
        assert fast.clocks[CL].due_at == expected["fast"] < slow.clocks[CL].due_at == expected["slow"]

        await advance_to(env, fast_due - timedelta(seconds=1))
        assert (await cases.state(fast.case_id)).clocks[FR].state != ClockState.BREACHED
        await advance_to(env, fast_due + timedelta(seconds=1))
        breached = await cases.wait(fast.case_id, lambda s: s.clocks[FR].state == ClockState.BREACHED, "fast breach")
        assert breached.clocks[FR].breached_at == fast_due
        assert (await cases.state(slow.case_id)).clocks[FR].state != ClockState.BREACHED
        await advance_to(env, slow_due + timedelta(seconds=1))
        breached = await cases.wait(slow.case_id, lambda s: s.clocks[FR].state == ClockState.BREACHED, "slow breach")
        assert breached.clocks[FR].breached_at == slow_due

        # A return goes to the merchant's own address.
        for name, state in states.items():
            await cases.act(state.case_id, "acknowledge", {"actor": "agent-1"})
            await cases.act(
                state.case_id, "propose_resolution", {"actor": "agent-1", "type": "return_refund", "amount": "100"}
            )
            returning = await cases.wait_status(state.case_id, Status.AWAITING_RETURN)
            assert returning.return_leg is not None
            assert returning.return_leg.address == parse_overlay(texts[name])["returns"]["address"]
