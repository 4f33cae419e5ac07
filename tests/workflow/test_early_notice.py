"""A roster notice that reaches a case in the same activation as its start (a first task retried
after the roster assigned the case from its queue) waits for the case's first record.

The first attempt of that task recorded the opening without the notice, under the same event
numbers; deciding the retry with the notice would give those numbers other events, and the
record keeps the rows it has. So the retry must record the opening alone, and the notice after.
Signal-with-start puts the notice in the first activation, as the retried task sees it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activities.contracts import RecordCase
from activities.memory import MemoryProjection
from cases.ids import workflow_id_for
from cases.routing.models import RoutingChange, RoutingStatus
from starter.client import CaseClient
from tests.conftest import memory_worker
from tests.support.factories import intake
from workflows.case_workflow import AfterSalesCase
from workflows.routing_steps import ROUTED_SIGNAL
from workflows.run_input import CaseInput


class Batches(MemoryProjection):
    """The memory record, keeping the event types of each write."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def write(self, request: RecordCase) -> Any:
        self.batches.append([e.type for e in request.events])
        return await super().write(request)


async def test_a_notice_in_the_first_activation_is_recorded_after_the_opening(env, policy) -> None:
    record = Batches()
    case = intake()
    assert case.case_id is not None
    notice = RoutingChange(
        case_id=case.case_id, workflow_id=workflow_id_for(case.case_id), seq=2, status=RoutingStatus.ASSIGNED,
        team="customer_service", agent="agent-7", at=datetime.now(UTC),
    )
    async with memory_worker(env.client, policy, projection=record) as task_queue:
        await env.client.start_workflow(
            AfterSalesCase.run, CaseInput.model_validate(case.model_dump()), id=workflow_id_for(case.case_id),
            task_queue=task_queue, start_signal=ROUTED_SIGNAL, start_signal_args=[notice],
        )
        cases = CaseClient(env.client, task_queue)
        state = await cases.wait_for_state(case.case_id)
        for _ in range(30):
            if state.handler is not None:
                break
            await env.sleep(1)
            state = await cases.state(case.case_id)
        assert state.handler == "agent-7"
        await cases.handle(case.case_id).terminate("test over")

    first, *later = record.batches
    assert "opened" in first and "assigned" not in first, record.batches
    assert ["assigned" in batch for batch in later].count(True) == 1, record.batches
