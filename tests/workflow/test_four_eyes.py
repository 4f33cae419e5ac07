"""Four-eyes and approval levels hold inside the workflow: a caller that sends updates with a
Temporal SDK, past the HTTP API, still cannot approve its own proposal or above its level.
"""

from __future__ import annotations

import pytest

from cases.models import Status
from starter.client import CaseClient, CaseError
from tests.conftest import memory_worker
from tests.support.factories import intake


async def _awaiting_approval(client: CaseClient, amount: str) -> str:
    case = intake(order_amount="5000.00")
    assert case.case_id is not None
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
    state = await client.act(
        case.case_id, "propose_resolution", {"actor": "agent-1", "type": "refund", "amount": amount}
    )
    assert state.status == Status.AWAITING_APPROVAL
    return case.case_id


async def test_the_validator_refuses_a_self_approval_and_one_over_the_level(env, policy) -> None:
    async with memory_worker(env.client, policy) as task_queue:
        client = CaseClient(env.client, task_queue, policy)
        case_id = await _awaiting_approval(client, "3000")
        with pytest.raises(CaseError, match="four-eyes") as own:
            await client.act(case_id, "approve", {"actor": "agent-1", "role": "supervisor"})
        assert own.value.kind == "forbidden"
        with pytest.raises(CaseError, match="a reviewer may approve; a supervisor must approve it") as over:
            await client.act(case_id, "approve", {"actor": "reviewer-1", "role": "reviewer"})
        assert over.value.kind == "forbidden"
        with pytest.raises(CaseError, match="approve.role: required"):
            await client.act(case_id, "approve", {"actor": "someone-else"})
        state = await client.state(case_id)
        assert state.status == Status.AWAITING_APPROVAL and state.review is None
        await client.act(case_id, "approve", {"actor": "supervisor-1", "role": "supervisor"})
        approved = await client.state(case_id)
        assert approved.review is not None and approved.review.by == "supervisor-1"
