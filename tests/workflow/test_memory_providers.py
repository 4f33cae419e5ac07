"""A whole case on the time-skipping server over in-memory providers: no PostgreSQL at all.

The workflow's side effects go through provider seams, so workflow tests can run against plain
in-memory providers. These check that the projection still receives every audit event once and
in order, that the money moves once, and that every queued notification is delivered.
"""

from __future__ import annotations

from datetime import timedelta

from activities.memory import MemoryNotifications, MemoryProjection, MemoryRefunds
from cases.models import Status
from starter.client import CaseClient
from tests.conftest import memory_worker
from tests.support.clock import skip
from tests.support.factories import intake


async def test_a_refund_case_runs_end_to_end_on_memory_providers(env, policy):  # type: ignore[no-untyped-def]
    projection, refunds, notifications = MemoryProjection(), MemoryRefunds(), MemoryNotifications()
    case = intake(order_amount="300.00")
    async with memory_worker(env.client, policy, projection=projection, refunds=refunds,
                             notifications=notifications) as task_queue:
        client = CaseClient(env.client, task_queue)
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        await client.act(case.case_id, "propose_resolution",
                         {"actor": "agent-1", "type": "refund", "amount": "120.00"})
        await skip(env, timedelta(seconds=1))
        await client.act(case.case_id, "confirm", {})
        state = await client.act(case.case_id, "rate", {"score": 5})
        if state.status == Status.FOLLOW_UP:
            await client.act(case.case_id, "follow_up_result", {"outcome": "satisfied"})
        await client.handle(case.case_id).result()
        final = await client.state(case.case_id)

    assert final.status == Status.CLOSED
    trail = projection.trail(case.case_id)
    assert [e.seq for e in trail] == list(range(1, final.last_seq + 1))
    types = [e.type for e in trail]
    # A follow-up booking still in flight when the outcome arrives is recorded after the close.
    assert types[0] == "opened" and types.count("closed") == 1
    assert set(types[types.index("closed") + 1:]) <= {"follow_up_booking_superseded"}
    assert types.count("resolution_executed") == 1
    assert projection.cases[case.case_id].last_seq == final.last_seq

    movements = [m for key, m in refunds.movements.items() if key.startswith(f"{case.case_id}:")]
    assert len(movements) == 1 and movements[0].status == "executed"
    assert final.resolution is not None
    assert final.resolution.steps[0].reference == movements[0].reference

    delivered = {key for key, _ in notifications.sent if key.startswith(f"{case.case_id}:")}
    assert delivered == set(final.notifications)
