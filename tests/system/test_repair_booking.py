"""A repair booking still in flight when the case moves on is cancelled, on a real dev server.

The time-skipping server moves its clock while an activity is held, so a booking held open
there times out; the dev server keeps real time.
"""

from __future__ import annotations

import asyncio

import pytest

from activities.contracts import Cancellation, CancellationResult, Visit, VisitResult
from cases.models import Status
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.eventually import eventually
from tests.support.factories import intake

pytestmark = pytest.mark.devserver


class HeldFieldService:
    """Holds each booking until released, so the case can move on while it is in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = asyncio.Event()
        self.cancelled: list[Cancellation] = []

    async def book(self, visit: Visit) -> VisitResult:
        self.held.set()
        await self.release.wait()
        return VisitResult(key=visit.key, reference="RV-HELD", scheduled_for=visit.scheduled_for)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        self.cancelled.append(cancellation)
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)


async def test_a_booking_that_lands_after_the_result_is_cancelled(dev_client, pool, policy) -> None:
    service = HeldFieldService()
    case = intake(order_amount="2000.00")
    async with case_worker(dev_client, pool, policy, visits=service) as task_queue:
        client = CaseClient(dev_client, task_queue)
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        await client.act(case.case_id, "propose_resolution", {"actor": "agent-1", "type": "repair"})
        await asyncio.wait_for(service.held.wait(), timeout=30)
        # The result is applied at once; its answer waits for the record, which the case writes
        # once the booking in flight returns.
        result = asyncio.create_task(
            client.act(case.case_id, "repair_result", {"result": "fixed", "repair_record": "RR-9"})
        )
        await eventually(
            lambda: client.state(case.case_id),
            lambda s: s.repair is not None and s.repair.outcome is not None,
            "result applied",
        )
        service.release.set()
        fixed = await result
        assert fixed.status == Status.AWAITING_CONFIRMATION
        async def cancelled() -> list[Cancellation]:
            return list(service.cancelled)

        await eventually(cancelled, bool, "the visit cancelled")
        assert [(c.key, c.reference) for c in service.cancelled] == [
            (f"{case.case_id}:p1:repair_visit:undo", "RV-HELD")
        ]
        after = await client.state(case.case_id)
        assert after.status == Status.AWAITING_CONFIRMATION
        assert after.repair is not None and after.repair.booking is None  # never counted
        await client.handle(case.case_id).terminate(reason="test finished")
