"""`aftersales webhooks`: subscriptions and delivery history from the command line, in a database of
the test's own (a subscription to `*` in the shared one would give every other test deliveries).
Commands that do not depend on each other run at once to keep the file quick.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from activities.record_input import record_case
from activities.store import PostgresProjection
from cases.core.machine import CaseMachine
from tests.support.factories import intake
from tests.support.outbox_helpers import fresh_database
from tests.system.test_cli import ROOT, _env, assert_one_line_user_error


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with fresh_database(postgres_dsn) as found:
        yield found


async def webhooks(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter.cli", "webhooks", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=_env("127.0.0.1:1", "aftersales", {"DATABASE_URL": dsn}), cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


async def test_add_list_remove_and_the_secret_is_shown_once(db, policy) -> None:  # type: ignore[no-untyped-def]
    dsn, pool = db
    added = await webhooks(dsn, "add", "https://orders.example.com/hooks", "--events", "opened,closed")
    assert added.returncode == 0, added.stderr
    made = json.loads(added.stdout)
    secret, sub = made["secret"], made["subscription"]
    assert secret.startswith("whsec_") and sub["event_types"] == ["opened", "closed"] and sub["active"]
    assert await pool.fetchval("SELECT secret FROM webhook_subscriptions WHERE id = $1", sub["id"]) == secret

    now = datetime.now(UTC)
    machine = CaseMachine.open("cli-hook-1", intake(case_id="cli-hook-1"), policy.snapshot(now), now)
    await PostgresProjection(pool).write(record_case(machine.state, machine.events))
    listed, history = await asyncio.gather(
        webhooks(dsn, "list"), webhooks(dsn, "deliveries", "--case", "cli-hook-1", "--limit", "5")
    )
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and secret.removeprefix("whsec_")[:12] not in listed.stdout
    [shown] = json.loads(listed.stdout)
    assert shown["id"] == sub["id"] and shown["secret_prefix"] == secret[:10] + "…"
    assert history.returncode == 0, history.stderr
    [delivery] = json.loads(history.stdout)
    assert (delivery["event"], delivery["webhook_id"], delivery["subscription"], delivery["status"]) == (
        "opened", "evt_cli-hook-1_1", sub["id"], "pending")
    assert delivery["attempts"] == 0 and delivery["last_status_code"] is None and delivery["delivered_at"] is None

    removed = await webhooks(dsn, "remove", sub["id"])
    assert removed.returncode == 0, removed.stderr
    gone = json.loads(removed.stdout)
    assert gone["subscription"]["active"] is False and gone["deliveries_cancelled"] == 1
    active, everything = await asyncio.gather(webhooks(dsn, "list"), webhooks(dsn, "list", "--all"))
    assert json.loads(active.stdout) == []
    assert [s["id"] for s in json.loads(everything.stdout)] == [sub["id"]] and secret not in everything.stdout


async def test_bad_input_is_one_line_exit_2(db) -> None:  # type: ignore[no-untyped-def]
    dsn, pool = db
    cases = [
        (("add", "ftp://orders.example.com/", "--events", "opened"), ("url",)),
        (("add", "https://x.example/h", "--events", "opened,registered"), ("unknown event type", "registered")),
        (("add", "https://x.example/h", "--events", ","), ("events",)),
        (("remove", "wh_nosuchthing"), ("no such subscription",)),
        (("deliveries", "--limit", "0"), ("--limit",)),
        (("add", "https://x.example/h", "--events", "*", "--merchant", "never-registered"), ("merchant_id: ",)),
        (("add", "https://x.example/h", "--events", "*", "--merchant", "Not An Id"), ("merchant_id: ",)),
    ]
    results = await asyncio.gather(*(webhooks(dsn, *args) for args, _ in cases))
    for result, (_, needles) in zip(results, cases, strict=True):
        assert_one_line_user_error(result, *needles)
    assert await pool.fetchval("SELECT count(*) FROM webhook_subscriptions") == 0
