"""Webhook delivery end to end: record_case writes the delivery, the starter starts its workflow,
the activity posts it signed to a real HTTP receiver, and Temporal retries until it is accepted.

The retry policy's backoff is skipped on the time-skipping server's clock (it does not skip an
activity's backoff on its own, so each test moves the clock once the first attempt is in), while
each attempt's signing time is the real clock, as the receiver's verification requires. Waits are
for states the system reaches on its own.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from temporalio.client import Client

from activities.record_input import record_case
from activities.store import PostgresProjection
from activities.webhooks.contracts import WebhookOutcome, WebhookTask, webhook_workflow_id
from activities.webhooks.delivery import PostgresWebhooks
from activities.webhooks.subscriptions import WebhookSubscriptions
from cases.core.machine import CaseMachine
from cases.policy.snapshot import Policy
from outbox.leader import connector
from outbox.webhook_starter import WebhookStarter, starting
from tests.support.clock import skip
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.outbox_helpers import fresh_database
from tests.support.webhook_receiver import Receiver
from worker import build_worker, webhook_activities
from workflows import retry_policies as rp


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with fresh_database(postgres_dsn) as found:
        yield found


@asynccontextmanager
async def working(client: Client, pool: asyncpg.Pool, task_queue: str) -> AsyncIterator[None]:
    """A worker with the webhook workflow and activities."""
    async with httpx.AsyncClient() as http:
        async with build_worker(client, task_queue, webhook_activities(PostgresWebhooks(pool, http))):
            yield


def a_starter(client: Client, dsn: str, task_queue: str) -> WebhookStarter:
    return WebhookStarter(connector(dsn), client, task_queue, poll_interval=0.2)


@asynccontextmanager
async def delivering(client: Client, dsn: str, pool: asyncpg.Pool) -> AsyncIterator[WebhookStarter]:
    """A worker and a starter beside it."""
    task_queue = f"tq-{uuid.uuid4()}"
    starter = a_starter(client, dsn, task_queue)
    async with working(client, pool, task_queue), starting(starter):
        yield starter


async def open_case(pool: asyncpg.Pool, policy: Policy) -> str:
    now = datetime.now(UTC)
    case_id = f"wh-{uuid.uuid4().hex[:10]}"
    machine = CaseMachine.open(case_id, intake(case_id=case_id), policy.snapshot(now), now)
    await PostgresProjection(pool).write(record_case(machine.state, machine.events))
    return case_id


async def delivery_rows(pool: asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT id, subscription_id, webhook_id, status, started_at, attempts, last_status_code,"
        " last_error, delivered_at FROM webhook_deliveries WHERE case_id = $1 ORDER BY id",
        case_id,
    )


def task_of(row: asyncpg.Record) -> WebhookTask:
    return WebhookTask(delivery_id=row["id"], subscription_id=row["subscription_id"], webhook_id=row["webhook_id"])


async def started(pool: asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    return await eventually(lambda: delivery_rows(pool, case_id),
                            lambda rows: bool(rows) and all(r["started_at"] for r in rows),
                            "every delivery started")


async def first_attempt_in(pool: asyncpg.Pool, case_id: str) -> None:
    await eventually(lambda: delivery_rows(pool, case_id), lambda rows: rows[0]["attempts"] >= 1,
                     "the first attempt recorded")


async def test_a_refused_delivery_is_retried_until_accepted_under_one_webhook_id(env, db, policy):
    dsn, pool = db
    receiver = Receiver(fail_first=2)
    subs = WebhookSubscriptions(pool)
    async with receiver.serving(), delivering(env.client, dsn, pool) as starter:
        made = await subs.add(receiver.url("orders"), "opened")
        receiver.secrets["orders"] = made.secret
        case_id = await open_case(pool, policy)
        [row] = await started(pool, case_id)
        assert starter.leading
        await first_attempt_in(pool, case_id)
        await skip(env, timedelta(minutes=1))  # past the 1 s and 2 s waits
        outcome = await env.client.get_workflow_handle(
            webhook_workflow_id(task_of(row)), result_type=WebhookOutcome
        ).result()

    assert (outcome.status, outcome.attempts, outcome.status_code) == ("delivered", 3, 200)
    seen = receiver.for_path("orders")
    assert [r.answered for r in seen] == [500, 500, 200]
    assert all(r.payload is not None for r in seen)  # every attempt verified
    assert {r.webhook_id for r in seen} == {row["webhook_id"]} == {f"evt_{case_id}_1"}
    assert len({r.body for r in seen}) == 1  # the same bytes each time, signed anew
    payload = seen[0].payload
    assert payload["type"] == "opened" and payload["id"] == row["webhook_id"]
    assert payload["data"]["case_id"] == case_id and payload["data"]["seq"] == 1

    attempts = await pool.fetch(
        "SELECT attempt, status_code, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt", row["id"]
    )
    assert [(a["attempt"], a["status_code"], a["error"]) for a in attempts] == [
        (1, 500, "HTTP 500"), (2, 500, "HTTP 500"), (3, 200, None)]
    [final] = await delivery_rows(pool, case_id)
    assert (final["status"], final["attempts"], final["last_status_code"], final["last_error"]) == (
        "delivered", 3, 200, None)
    assert final["delivered_at"] is not None


async def test_a_start_repeated_after_a_crash_sends_nothing_again(env, db, policy):
    dsn, pool = db
    receiver = Receiver(fail_first=1)
    subs = WebhookSubscriptions(pool)
    task_queue = f"tq-{uuid.uuid4()}"
    async with receiver.serving(), working(env.client, pool, task_queue):
        made = await subs.add(receiver.url("app"), "opened")
        receiver.secrets["app"] = made.secret
        case_id = await open_case(pool, policy)
        async with starting(a_starter(env.client, dsn, task_queue)):
            [row] = await started(pool, case_id)
            await first_attempt_in(pool, case_id)  # refused; the workflow waits out its backoff
        # A starter killed after Temporal took the start but before it marked the row.
        await pool.execute("UPDATE webhook_deliveries SET started_at = NULL WHERE id = $1", row["id"])
        async with starting(a_starter(env.client, dsn, task_queue)):
            [again] = await started(pool, case_id)
        await skip(env, timedelta(minutes=1))
        outcome = await env.client.get_workflow_handle(
            webhook_workflow_id(task_of(row)), result_type=WebhookOutcome
        ).result()
    assert again["status"] == "pending"  # marked by the repeat start, which the server refused
    assert (outcome.status, outcome.attempts) == ("delivered", 2)
    assert [r.answered for r in receiver.for_path("app")] == [500, 200]


async def test_removing_a_subscription_cancels_its_retries(env, db, policy):
    dsn, pool = db
    receiver = Receiver(fail_first=10**6)
    subs = WebhookSubscriptions(pool)
    async with receiver.serving(), delivering(env.client, dsn, pool):
        made = await subs.add(receiver.url("gone"), "opened")
        receiver.secrets["gone"] = made.secret
        case_id = await open_case(pool, policy)
        [row] = await started(pool, case_id)
        await first_attempt_in(pool, case_id)
        removed = await subs.remove(made.subscription.id)
        await skip(env, timedelta(minutes=1))
        outcome = await env.client.get_workflow_handle(
            webhook_workflow_id(task_of(row)), result_type=WebhookOutcome
        ).result()
    assert removed.deliveries_cancelled == 1
    assert outcome.status == "cancelled"
    [final] = await delivery_rows(pool, case_id)
    assert final["status"] == "cancelled" and final["delivered_at"] is None
    assert len(receiver.for_path("gone")) == final["attempts"]


async def test_a_subscriber_out_for_the_whole_expiry_gets_the_delivery_marked_expired(env, db, policy):
    dsn, pool = db
    subs = WebhookSubscriptions(pool)
    # The port is held by a socket that never listens: every attempt is refused at connect, and
    # no other process of the run can take the port meanwhile (a merely free port can be).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        async with delivering(env.client, dsn, pool):
            made = await subs.add(f"http://127.0.0.1:{held.getsockname()[1]}/down", "opened")
            case_id = await open_case(pool, policy)
            [row] = await started(pool, case_id)
            await first_attempt_in(pool, case_id)
            await skip(env, rp.WEBHOOK_EXPIRY + timedelta(hours=1))
            outcome = await env.client.get_workflow_handle(
                webhook_workflow_id(task_of(row)), result_type=WebhookOutcome
            ).result()
    [final] = await delivery_rows(pool, case_id)
    assert outcome.status == final["status"] == "expired"
    assert final["attempts"] > 10 and final["last_status_code"] is None
    assert final["last_error"].startswith("ConnectError")
    assert made.subscription.active
