"""What operations staff see in the Temporal UI: search attributes, summaries, live details.

The time-skipping server does not return user metadata, so this runs on the real dev server.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata

from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.factories import intake
from tests.support.routing_helpers import team_roster
from workflows import search_attributes as sa

pytestmark = pytest.mark.devserver

CASES = {
    "urgent": dict(category="safety", flags={"safety_risk": True}, customer_tier="vip"),
    "complex": dict(category="product_quality", flags={"cross_department": True}),
    "general": dict(category="logistics"),
}


async def _summaries(client, handle) -> list[str]:  # type: ignore[no-untyped-def]
    history = await handle.fetch_history()
    out = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED and event.user_metadata.HasField("summary"):
            [text] = await client.data_converter.decode([event.user_metadata.summary], [str])
            out.append(text)
    return out


async def _activity_summaries(client, handle) -> list[str]:  # type: ignore[no-untyped-def]
    """The summaries of every activity, local ones (their markers) included."""
    history = await handle.fetch_history()
    out = []
    for event in history.events:
        local = (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
        )
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED or local:
            assert event.user_metadata.HasField("summary"), "every activity carries a summary"
            [text] = await client.data_converter.decode([event.user_metadata.summary], [str])
            out.append(text)
    return out


@pytest.mark.parametrize("tier", ["urgent", "complex", "general"])
async def test_case_is_legible_in_the_ui(dev_client, pool, policy, tier):
    order = f"UI-{tier}-{uuid.uuid4().hex[:6]}"
    case = intake(order_id=order, **CASES[tier])
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        opened = await client.open(case)
        assert opened.tier.value == tier
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        state = await client.state(case.case_id)
        handle = client.handle(case.case_id)

        described = await handle.describe()
        summary = await described.static_summary()
        expected = f"{tier} · {case.category.value} · order {order}" + (" · VIP" if tier == "urgent" else "")
        assert summary == expected
        assert "channel" in (await described.static_details() or "")

        # Search attributes are upserted after each recorded change; wait for the last one.
        for _ in range(50):
            attrs = (await handle.describe()).typed_search_attributes
            if attrs.get(sa.CASE_STATUS) == "acknowledged":
                break
            await asyncio.sleep(0.1)
        assert attrs.get(sa.CASE_TIER) == tier
        assert attrs.get(sa.CASE_STATUS) == "acknowledged"
        assert attrs.get(sa.CASE_CATEGORY) == case.category.value
        assert attrs.get(sa.CUSTOMER_TIER) == case.customer.tier.value
        assert attrs.get(sa.ESCALATION_LEVEL) == (2 if tier == "urgent" else 3)
        assert attrs.get(sa.SLA_STATE) == "running"
        assert attrs.get(sa.ORDER_ID) == order
        due = attrs.get(sa.SLA_DUE_AT)
        next_due = min(c.due_at for c in state.clocks.values() if c.due_at is not None)
        assert due is not None and abs((due - next_due).total_seconds()) < 0.001

        timers = await _summaries(dev_client, handle)
        assert timers, "the workflow's timers carry summaries"
        assert any(f"SLA ({tier})" in t and ("due" in t or "warning at" in t) for t in timers), timers
        activities = await _activity_summaries(dev_client, handle)
        # The record is a local activity; the notifications leave with it, through the outbox.
        assert any(a.startswith("record ") and "acknowledged" in a for a in activities), activities
        assert "capture the SLA policy in force" in activities
        assert not any(a.startswith("notify ") for a in activities)

        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        details = metadata.current_details
        assert f"**{tier}**" in details and "| clock | whose | target | state |" in details
        assert "| first response |" in details and "| met |" in details
        for name in ("initial handling", "resolution", "complaint closure"):
            assert f"| {name} |" in details

        listed = await client.list(f"CaseTier = '{tier}' AND OrderId = '{order}'")
        assert [c.case_id for c in listed] == [case.case_id]
        await client.act(case.case_id, "withdraw", {"reason": "done"})


async def test_a_return_is_found_by_its_parcel_and_shows_its_leg(dev_client, pool, policy):
    case = intake(order_amount="2000.00")
    tracking = f"SF{uuid.uuid4().int % 10**10:010d}"
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        proposal = {"actor": "agent-1", "type": "return_refund", "amount": "99"}
        await client.act(case.case_id, "propose_resolution", proposal)
        await client.act(case.case_id, "customer_message", {"text": "Where do I send it? My flat is 12B."})
        await client.act(case.case_id, "return_shipped", {"carrier": "SF Express", "tracking_number": tracking})
        state = await client.state(case.case_id)
        handle = client.handle(case.case_id)
        for _ in range(50):
            if (await handle.describe()).typed_search_attributes.get(sa.RETURN_TRACKING) == tracking:
                break
            await asyncio.sleep(0.1)
        listed = await client.list(f"ReturnTracking = '{tracking}'")
        assert [c.case_id for c in listed] == [case.case_id]

        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert state.return_leg is not None
        assert f"return **{state.return_leg.rma}** · SF Express {tracking}" in metadata.current_details
        assert "| return shipment | buyer | 7d | met |" in metadata.current_details
        assert "| next reply | staff | 24h | running |" in metadata.current_details
        # The timer armed for the first response's warning stays armed: the return window's
        # instants are later, so they wait for it to fire.
        timers = await _summaries(dev_client, handle)
        everything = " ".join(timers + await _activity_summaries(dev_client, handle) + [metadata.current_details])
        everything += str((await handle.describe()).typed_search_attributes)
        assert "12B" not in everything and "Where do I send" not in everything
        await client.act(case.case_id, "return_received", {"actor": "warehouse-sh"})
        failed = {"result": "failed", "notes": "wrong item", "evidence": ["IMG-7"]}
        await client.act(case.case_id, "inspection_result", failed)
        await client.act(case.case_id, "withdraw", {"reason": "done"})


async def test_a_queued_case_shows_its_team_and_is_found_without_a_handler(dev_client, pool, policy):
    """A case with nobody free waits in its team's queue, visible in the list and on its page;
    when a seat frees it shows its handler."""
    roster = await team_roster(pool, policy)
    agent = await roster.agent("ui", datetime.now(UTC), capacity=1)
    async with case_worker(dev_client, pool, roster.policy) as task_queue:
        client = CaseClient(dev_client, task_queue, roster.policy)
        holder, waiting = intake(description="Wrong size."), intake(description="Broken zip.")
        await client.open(holder)
        await client.open(waiting)
        handle = client.handle(str(waiting.case_id))
        query = f"CaseTeam = '{roster.team}' AND CaseHandler IS NULL"
        for _ in range(50):
            if [c.case_id for c in await client.list(query)] == [waiting.case_id]:
                break
            await asyncio.sleep(0.2)
        assert [c.case_id for c in await client.list(query)] == [waiting.case_id]
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert f"waiting in the queue of team **{roster.team}** since" in metadata.current_details
        await client.act(str(holder.case_id), "withdraw", {"reason": "done"})
        for _ in range(50):
            if (await handle.describe()).typed_search_attributes.get(sa.CASE_HANDLER) == agent:
                break
            await asyncio.sleep(0.2)
        attrs = (await handle.describe()).typed_search_attributes
        assert (attrs.get(sa.CASE_HANDLER), attrs.get(sa.CASE_TEAM)) == (agent, roster.team)
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        assert f"handler **{agent}** · team {roster.team} · to accept by" in metadata.current_details
        await client.act(str(waiting.case_id), "withdraw", {"reason": "done"})
