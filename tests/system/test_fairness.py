"""Fairness between merchants on a real dev server (STANDARDS S14.5): one merchant's backlog does
not hold up another merchant's cases.

Merchant A's backlog is started while no worker serves the task queue, merchant B's few cases
behind it; then one worker with two workflow-task slots drains the queue, so the backlog sits in
the server's task queue, where fairness acts. "Served" is the case's `opened` record: the instant
its first workflow task ran. With fairness keys, B's cases are served in turn with A's, long
before A's backlog drains; the same queue without them serves B last, which shows the test can
tell the two apart.
"""

from __future__ import annotations

import uuid

import asyncpg
from temporalio.client import Client

from activities.merchants import MerchantRegistry
from cases.plans import Plan, fairness_weight
from cases.policy.snapshot import Policy
from starter.client import CaseClient
from tests.support.eventually import eventually
from tests.support.factories import intake
from worker import activities_for, build_worker

BACKLOG = 120
BEHIND = 10


async def _served_order(
    client: Client, pool: asyncpg.Pool, policy: Policy, *, fair: bool, b_plan: Plan = Plan.STANDARD
) -> list[str]:
    """The merchants of the cases, in the order their first workflow task ran."""
    run = uuid.uuid4().hex[:6]
    a, b = f"fa-{run}", f"fb-{run}"
    plans = {a: Plan.STANDARD, b: b_plan}
    for merchant, plan in plans.items():
        await MerchantRegistry(pool).add(merchant, merchant, plan)
    task_queue = f"tq-fair-{run}"
    cases = CaseClient(client, task_queue, policy, fair=fair)
    keys = []
    for merchant, count in ((a, BACKLOG), (b, BEHIND)):  # B last: first come, first served puts it last
        for n in range(count):
            weight = fairness_weight(plans[merchant])
            key, _, _ = await cases.start(intake(case_id=f"c{n}", merchant_id=merchant), weight=weight)
            keys.append(key)

    async def opened() -> list[asyncpg.Record]:
        rows = await pool.fetch(
            "SELECT c.merchant_id, e.at FROM cases c JOIN case_events e ON e.case_id = c.case_id AND e.seq = 1"
            " WHERE c.case_id = ANY($1::text[]) ORDER BY e.at, c.case_id",
            keys,
        )
        return rows

    async with build_worker(client, task_queue, activities_for(pool, policy), max_concurrent_workflow_tasks=2):
        rows = await eventually(opened, lambda r: len(r) == len(keys), "every case opened", timeout=240, interval=0.5)
    # The start carries the merchant and its plan's weight; the case's tasks inherit them.
    started = (await cases.handle(keys[-1]).fetch_history()).events[0].workflow_execution_started_event_attributes
    assert (started.priority.fairness_key, started.priority.fairness_weight) == (
        (b, fairness_weight(b_plan)) if fair else ("", 0.0)
    )
    for key in keys:
        await cases.handle(key).terminate("test finished")
    return ["A" if r["merchant_id"] == a else "B" for r in rows]


async def test_a_merchants_cases_are_served_in_turn_with_another_merchants_backlog(
    dev_client: Client, pool: asyncpg.Pool, policy: Policy
) -> None:
    fair = await _served_order(dev_client, pool, policy, fair=True)
    # In turn: B's ten are served within about the first twenty, long before A's backlog drains.
    assert max(i for i, m in enumerate(fair) if m == "B") < 3 * BEHIND, "".join(fair)

    unfair = await _served_order(dev_client, pool, policy, fair=False)
    assert min(i for i, m in enumerate(unfair) if m == "B") > BACKLOG // 2, "".join(unfair)


async def test_a_merchants_plan_weighs_its_turn(dev_client: Client, pool: asyncpg.Pool, policy: Policy) -> None:
    # Premium weighs twice standard: two of B's cases for each of A's, so B's ten are served
    # within about the first fifteen, where in equal turns they take about twenty.
    weighted = await _served_order(dev_client, pool, policy, fair=True, b_plan=Plan.PREMIUM)
    assert max(i for i, m in enumerate(weighted) if m == "B") < 17, "".join(weighted)
    assert weighted[:12].count("B") >= 7, "".join(weighted)
