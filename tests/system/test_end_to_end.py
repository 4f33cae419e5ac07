"""The whole path on real servers: client → Temporal dev server → workflow → activities → PostgreSQL."""

from __future__ import annotations

import pytest

from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.eventually import eventually
from tests.support.factories import intake

pytestmark = pytest.mark.devserver


async def test_open_acknowledge_find_by_search_attribute_and_in_postgres(dev_client, pool, policy):
    case = intake(order_id="E2E-4471")
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        opened = await client.open(case)
        assert opened.created and opened.tier.value == "general"
        assert opened.workflow_id == f"case-{case.case_id}"

        await client.act(case.case_id, "acknowledge", {"actor": "agent-7"})

        state = await client.state(case.case_id)
        assert state.status.value == "acknowledged"
        assert state.clocks["first_response"].state.value == "met"

        query = "OrderId = 'E2E-4471' AND CaseStatus = 'acknowledged' AND CaseTier = 'general'"

        async def found():  # type: ignore[no-untyped-def]
            return [c for c in await client.list(query) if c.case_id == case.case_id]

        listed = await eventually(found, bool, "the case in visibility", timeout=60)
        assert [c.case_id for c in listed] == [case.case_id]
        assert listed[0].escalation_level == 3
        assert listed[0].sla_state == "running"

        row = await pool.fetchrow(
            "SELECT status, tier, order_id, last_seq FROM cases WHERE case_id = $1", case.case_id
        )
        assert row is not None
        assert (row["status"], row["tier"], row["order_id"]) == ("acknowledged", "general", "E2E-4471")
        assert row["last_seq"] == state.last_seq
        seqs = [r["seq"] for r in await pool.fetch(
            "SELECT seq FROM case_events WHERE case_id = $1 ORDER BY seq", case.case_id)]
        assert seqs == list(range(1, state.last_seq + 1))

        again = await client.open(case)
        assert not again.created and again.run_id == opened.run_id
        await client.act(case.case_id, "withdraw", {"reason": "test over"})
