"""Webhook deliveries as record_case writes them: one per new event and matching subscription,
none twice, none for an event type nobody asked for, and payloads without personal data."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from activities.contracts import RecordCase
from activities.record_input import record_case
from activities.store import PostgresProjection
from activities.webhooks.subscriptions import WebhookSubscriptions
from cases.core.machine import CaseMachine
from cases.models import (
    Acknowledge,
    CaseEvent,
    CustomerReply,
    Note,
    ProposeResolution,
    RequestInfo,
    ResolutionType,
    Withdraw,
)
from cases.policy.snapshot import Policy
from cases.views.webhook_events import PUBLIC_FIELDS
from tests.support.factories import intake
from tests.support.outbox_helpers import fresh_database

NAME, PHONE, EMAIL = "Zhang Xiaoming", "+8613912345678", "zhang.xm@example.cn"
TEXT = f"Call {NAME} on {PHONE} or write to {EMAIL}"
PERSONAL = (NAME, PHONE, EMAIL, "Zhang", "zhang.xm", "13912345678", "a private note")
# Keys the engine's events use for free text, recipients, staff and customer phrases.
FREE_TEXT_KEYS = ("text", "message", "question", "note", "notes", "reason", "comment", "recipient", "phrases",
                  "handler", "tracking_number", "repair_record", "error", "evidence", "steps", "proof")

ROW = ("SELECT subscription_id, webhook_id, seq, event_type, payload FROM webhook_deliveries"
       " WHERE case_id = $1 ORDER BY seq, subscription_id")


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with fresh_database(postgres_dsn) as (_, pool):
        yield pool


def opened(policy: Policy, **intake_fields: object) -> CaseMachine:
    now = datetime.now(UTC)
    case_id = f"whr-{uuid.uuid4().hex[:10]}"
    return CaseMachine.open(case_id, intake(case_id=case_id, **intake_fields), policy.snapshot(now), now)


def drained(machine: CaseMachine) -> RecordCase:
    events, machine.events = machine.events, []
    machine.notifications = []
    return record_case(machine.state, events)


async def test_each_new_event_makes_one_delivery_per_matching_subscription_and_a_retry_none(db, policy):
    subs = WebhookSubscriptions(db)
    some = await subs.add("https://orders.example.com/hooks", "opened,closed")
    every = await subs.add("https://app.example.com/hooks", "*")
    other = await subs.add("https://crm.example.com/hooks", "escalated,clock_breached")
    removed = await subs.add("https://old.example.com/hooks", "*")
    await subs.remove(removed.subscription.id)
    machine = opened(policy)
    record = drained(machine)
    projection = PostgresProjection(db)

    await projection.write(record)
    first = await db.fetch(ROW, machine.state.case_id)
    again = await projection.write(record)
    assert again.events_written == 0
    assert await db.fetch(ROW, machine.state.case_id) == first

    by_sub: dict[str, list[str]] = {}
    for row in first:
        by_sub.setdefault(row["subscription_id"], []).append(row["event_type"])
    assert by_sub[some.subscription.id] == ["opened"]
    assert by_sub[every.subscription.id] == [e.type for e in record.events]
    assert other.subscription.id not in by_sub and removed.subscription.id not in by_sub
    # One id per event, whoever receives it.
    ids = {(r["seq"], r["webhook_id"]) for r in first}
    assert ids == {(e.seq, f"evt_{machine.state.case_id}_{e.seq}") for e in record.events}

    case_row = await db.fetchrow("SELECT status, tier FROM cases WHERE case_id = $1", machine.state.case_id)
    payload = json.loads(next(r for r in first if r["event_type"] == "opened")["payload"])
    assert set(payload) == {"type", "id", "timestamp", "data"}
    assert set(payload["data"]) == {"case_id", "seq", "status", "tier", "at", "event"}
    assert payload["type"] == "opened" and payload["id"] == f"evt_{machine.state.case_id}_1"
    assert (payload["data"]["status"], payload["data"]["tier"]) == (case_row["status"], case_row["tier"])
    assert payload["timestamp"] == payload["data"]["at"]
    assert payload["timestamp"] == record.events[0].at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert set(payload["data"]["event"]) == {"tier", "category", "channel", "order_id", "escalation_level"}


async def test_without_a_subscription_a_record_writes_no_delivery(db, policy):
    machine = opened(policy)
    await PostgresProjection(db).write(drained(machine))
    assert await db.fetch(ROW, machine.state.case_id) == []


async def test_payloads_carry_no_personal_data(db, policy):
    every = await WebhookSubscriptions(db).add("https://app.example.com/hooks", "*")
    customer = {"id": "cust-pii", "name": NAME, "phone": PHONE, "email": EMAIL}
    machine = opened(policy, customer=customer, description=TEXT, order_amount="9000.00")
    projection = PostgresProjection(db)
    await projection.write(drained(machine))
    now = datetime.now(UTC)
    steps = [
        ("acknowledge", Acknowledge(actor="agent-1", message=TEXT)),
        ("note", Note(actor="agent-1", text="a private note")),
        ("request_info", RequestInfo(actor="agent-1", question=f"{NAME}, is {PHONE} yours?")),
        ("customer_reply", CustomerReply(text=TEXT)),
        ("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.REFUND,
                                                 amount=Decimal("5000"), note=TEXT)),
    ]
    for n, (action, data) in enumerate(steps, start=1):
        machine.apply(action, data, now + timedelta(minutes=n))
        await projection.write(drained(machine))
    # Every event type the engine has, each with free text under every key events use for it.
    seq = machine.state.last_seq
    crafted = [
        CaseEvent(seq=seq + i, type=t, actor="agent-1", at=now + timedelta(hours=1),
                  data=dict.fromkeys(fields, 3) | dict.fromkeys(FREE_TEXT_KEYS, TEXT))
        for i, (t, fields) in enumerate(sorted(PUBLIC_FIELDS.items()), start=1)
    ]
    machine.state.last_seq = seq + len(crafted)
    await projection.write(record_case(machine.state, crafted))
    machine.apply("withdraw", Withdraw(actor="customer", reason=TEXT), now + timedelta(hours=2))
    await projection.write(drained(machine))

    rows = await db.fetch(ROW, machine.state.case_id)
    assert {r["subscription_id"] for r in rows} == {every.subscription.id}
    types = {r["event_type"] for r in rows}
    assert set(PUBLIC_FIELDS) <= types and {"acknowledged", "note", "customer_replied", "withdrawn"} <= types
    for row in rows:
        text = row["payload"]
        for secret in PERSONAL:
            assert secret not in text, (row["event_type"], secret)
        event = json.loads(text)["data"]["event"]
        assert set(event) <= PUBLIC_FIELDS[row["event_type"]], row["event_type"]
        assert not set(event) & set(FREE_TEXT_KEYS), row["event_type"]
