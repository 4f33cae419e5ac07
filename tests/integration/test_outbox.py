"""The outbox dispatcher against the embedded PostgreSQL and a fake partner on a real socket.

Each test queues rows as the projection does (`queue`, in a transaction), runs one or two
in-process dispatchers over `HttpNotifications`, and reads back both sides: the rows' status,
attempts and errors, and the partner's raw attempts and its ledger of first arrivals. Waits are
for states the system reaches on its own, never for a length of time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from activities.http_providers import HttpNotifications, SignedJsonClient
from activities.notifications import NotificationProvider
from cases.core.effects import Notification
from devstack.processes import free_port
from outbox.dispatcher import LOCK_ID, Dispatcher, connector, dispatching
from outbox.retry import Backoff
from tests.support.eventually import eventually
from tests.support.notification_partner import NotificationPartner
from tests.support.outbox_helpers import SECRET, fresh_database, keys_in_id_order, notice, queue, rows, statuses

FAST = Backoff(base=0.05, cap=0.4)


@pytest.fixture
async def db(postgres_dsn: str) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with fresh_database(postgres_dsn) as found:
        yield found


@pytest.fixture
def partner() -> Iterator[NotificationPartner]:
    server = NotificationPartner(SECRET, free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def provider(partner: NotificationPartner) -> AsyncIterator[HttpNotifications]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        yield HttpNotifications(SignedJsonClient(http, partner.url, SECRET))


@asynccontextmanager
async def running(dsn: str, provider: NotificationProvider, **options: Any) -> AsyncIterator[Dispatcher]:
    options = {"poll_interval": 0.2, "backoff": FAST, "concurrency": 4} | options
    dispatcher = Dispatcher(connector(dsn), provider, **options)
    async with dispatching(dispatcher):
        yield dispatcher


def all_settled(found: dict[str, str]) -> bool:
    return bool(found) and "pending" not in found.values()


def ledger_order(ledger: list[tuple[str, str]], case_id: str) -> list[str]:
    return [key for key, case in ledger if case == case_id]


async def test_each_key_is_delivered_once_with_its_channels_and_marked(db, partner, provider):
    dsn, pool = db
    cases = ["c-once-1", "c-once-2", "c-once-3"]
    for seq in range(1, 4):
        await queue(pool, *(notice(c, seq, "sms", "email") if seq % 2 else notice(c, seq, "push")
                            for c in cases))
    async with running(dsn, provider):
        await eventually(lambda: statuses(pool), all_settled, "every key delivered")
        # One more key, delivered after the others: none of the earlier ones was sent again.
        await queue(pool, notice("c-once-1", 4))
        await eventually(lambda: statuses(pool), lambda s: s.get("c-once-1:4:update") == "delivered",
                         "the later key delivered")
    attempts, ledger, _ = partner.snapshot()
    found = await rows(pool)
    keys = {r["key"] for r in found}
    assert len(keys) == 10
    assert sorted(a.key for a in attempts) == sorted(keys)  # one provider call per key
    assert sorted(k for k, _ in ledger) == sorted(keys)
    for attempt in attempts:
        assert list(attempt.channels) == [r["channel"] for r in found if r["key"] == attempt.key]
    for r in found:
        assert (r["status"], r["attempts"], r["last_error"]) == ("delivered", 1, None)
        assert r["delivered_at"] is not None
        assert len(json.loads(r["deliveries"])) == sum(x["key"] == r["key"] for x in found)
    for case_id in cases:
        assert ledger_order(ledger, case_id) == keys_in_id_order(found, case_id)


async def test_a_failing_head_holds_back_its_case_only(db, partner, provider):
    dsn, pool = db
    a = [notice("c-order-a", seq) for seq in (1, 2, 3)]
    b = [notice("c-order-b", seq) for seq in (1, 2)]
    for n in (a[0], b[0], a[1], b[1], a[2]):  # interleaved commits, so ids interleave too
        await queue(pool, n)
    partner.failing.add(a[0].key)
    async with running(dsn, provider):

        async def progress() -> tuple[dict[str, str], int]:
            found = await rows(pool)
            return ({r["key"]: r["status"] for r in found},
                    max(r["attempts"] for r in found if r["key"] == a[0].key))

        await eventually(progress,
                         lambda v: all(v[0][n.key] == "delivered" for n in b) and v[1] >= 3,
                         "the other case delivered while the head kept failing")
        attempts, _, _ = partner.snapshot()
        assert {x.key for x in attempts} & {a[1].key, a[2].key} == set()
        head = next(r for r in await rows(pool) if r["key"] == a[0].key)
        assert head["status"] == "pending"
        assert head["last_error"].startswith("ProviderError: POST ") and "HTTP 503" in head["last_error"]

        partner.failing.clear()
        await eventually(lambda: statuses(pool), all_settled, "the held case delivered once it could be")
    _, ledger, _ = partner.snapshot()
    found = await rows(pool)
    assert ledger_order(ledger, "c-order-a") == [n.key for n in a] == keys_in_id_order(found, "c-order-a")
    assert ledger_order(ledger, "c-order-b") == [n.key for n in b]


def _leaks(text: str, notifications: list[Notification]) -> list[str]:
    return [s for n in notifications for s in (n.recipient, n.subject, n.body) if s in text]


async def test_an_outage_delays_delivery_and_loses_nothing(db, partner, provider):
    dsn, pool = db
    partner.stop()  # connection refused first
    cases = [f"c-outage-{i}" for i in range(3)]
    queued = [notice(c, seq, "sms", "email") for seq in (1, 2, 3) for c in cases]
    for n in queued:
        await queue(pool, n)
    heads = {f"{c}:1:update" for c in cases}

    async def errors() -> dict[str, tuple[int, str | None]]:
        return {r["key"]: (r["attempts"], r["last_error"]) for r in await rows(pool)}

    def failing_heads(text: str, after: int = 0):  # type: ignore[no-untyped-def]
        def ok(found: dict[str, tuple[int, str | None]]) -> bool:
            return all(found[k][0] >= after + 2 and text in (found[k][1] or "") for k in heads)
        return ok

    async with running(dsn, provider):
        refused = await eventually(errors, failing_heads("ConnectError"), "refused attempts recorded")
        assert all(refused[k][0] == 0 for k in refused if k not in heads)  # later keys wait

        partner.outage = 503
        partner.start()
        before = max(refused[k][0] for k in heads)
        unavailable = await eventually(errors, failing_heads("HTTP 503", before), "503 answers recorded")
        assert all(unavailable[k][0] == 0 for k in unavailable if k not in heads)
        assert await statuses(pool) == {n.key: "pending" for n in queued}
        for _, error in unavailable.values():
            assert not _leaks(error or "", queued), error

        partner.outage = None
        await eventually(lambda: statuses(pool), all_settled, "every key delivered after the outage")
    attempts, ledger, _ = partner.snapshot()
    found = await rows(pool)
    assert sorted(k for k, _ in ledger) == sorted(n.key for n in queued)
    assert all(r["status"] == "delivered" and r["last_error"] is None for r in found)
    assert sum(1 for x in attempts if x.status == 200) == len(queued)
    for case_id in cases:
        assert ledger_order(ledger, case_id) == keys_in_id_order(found, case_id)


async def test_a_declined_notification_is_marked_and_its_case_moves_on(db, partner, provider):
    dsn, pool = db
    first, second = notice("c-declined", 1, "sms", "email"), notice("c-declined", 2)
    await queue(pool, first)
    await queue(pool, second)
    partner.declines.add(first.key)
    async with running(dsn, provider):
        await eventually(lambda: statuses(pool), all_settled, "both keys settled")
    found = await rows(pool)
    declined = [r for r in found if r["key"] == first.key]
    assert [(r["status"], r["attempts"], r["deliveries"]) for r in declined] == [("declined", 1, "[]")] * 2
    assert all(r["delivered_at"] is None for r in declined)
    assert [r["status"] for r in found if r["key"] == second.key] == ["delivered"]
    attempts, ledger, _ = partner.snapshot()
    assert [x.key for x in attempts] == [first.key, second.key]  # the refusal is not retried
    assert ledger == [(second.key, "c-declined")]


async def test_a_commit_wakes_the_leader_long_before_its_poll(db, partner, provider):
    dsn, pool = db
    async with running(dsn, provider, poll_interval=600.0) as dispatcher:
        await eventually(lambda: _value(dispatcher.leading), bool, "the dispatcher leading")
        await queue(pool, notice("c-wake", 1))
        await eventually(lambda: statuses(pool), all_settled, "the first key delivered")
        # The leader is now asleep on a 10-minute poll: only the NOTIFY can wake it in time.
        await queue(pool, notice("c-wake", 2))
        await eventually(lambda: statuses(pool), all_settled, "the second key delivered", timeout=120)


async def _value(value: Any) -> Any:
    return value


class Witness:
    """Wraps each dispatcher's provider; records who called, and any two calling at once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.overlaps: list[tuple[str, str]] = []
        self._active: dict[str, int] = {}

    def provider(self, name: str, inner: NotificationProvider) -> NotificationProvider:
        witness = self

        class Tagged:
            async def deliver(self, notification: Notification) -> list[str]:
                others = [n for n, count in witness._active.items() if n != name and count]
                witness.overlaps += [(name, other) for other in others]
                witness._active[name] = witness._active.get(name, 0) + 1
                witness.calls.append((name, notification.key))
                try:
                    return await inner.deliver(notification)
                finally:
                    witness._active[name] -= 1

        return Tagged()


async def test_two_dispatchers_one_delivers_and_the_standby_takes_over(db, partner, provider):
    dsn, pool = db
    witness = Witness()
    async with running(dsn, witness.provider("first", provider)) as first:
        await eventually(lambda: _value(first.leading), bool, "the first dispatcher leading")
        async with running(dsn, witness.provider("second", provider)) as second:
            await eventually(lambda: _value(second.standing_by), bool, "the second standing by")
            batch1 = [notice(f"c-lead-{i}", seq) for seq in (1, 2, 3) for i in range(3)]
            await queue(pool, *batch1)
            await eventually(lambda: statuses(pool), all_settled, "the first batch delivered")
            assert {name for name, _ in witness.calls} == {"first"}
            assert not second.leading

            killed = await pool.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND classid = $1 AND objid = $2 AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())",
                LOCK_ID >> 32, LOCK_ID & 0xFFFFFFFF,
            )
            assert killed == 1
            await eventually(lambda: _value(second.leading), bool, "the standby leading")
            assert not first.leading
            batch2 = [notice(f"c-lead-{i}", seq) for seq in (4, 5) for i in range(3)]
            await queue(pool, *batch2)
            await eventually(lambda: statuses(pool), all_settled, "the second batch delivered")
            # The deposed leader reconnected meanwhile and found the lock taken.
            await eventually(lambda: _value(first.standing_by), bool, "the first standing by")
    assert witness.overlaps == []
    by = dict((key, name) for name, key in witness.calls)
    assert {by[n.key] for n in batch1} == {"first"}
    assert {by[n.key] for n in batch2} == {"second"}
    _, ledger, _ = partner.snapshot()
    assert sorted(k for k, _ in ledger) == sorted(n.key for n in batch1 + batch2)
    found = await rows(pool)
    for i in range(3):
        assert ledger_order(ledger, f"c-lead-{i}") == keys_in_id_order(found, f"c-lead-{i}")
