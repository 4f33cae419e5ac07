"""Exactly once across a worker SIGKILLed at the worst moment: a refund is executed once when
the worker dies after paying (one an agent proposed, and one a merchant's silence agreed to),
and every audit row and outbox row is written once when it dies after the record committed but
before the workflow task that wrote it completed."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.merchants import MerchantRegistry
from cases.models import CaseState
from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS
from tests.support.factories import intake

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]


async def _spawn_worker(  # type: ignore[no-untyped-def]
    dev_server, dsn: str, task_queue: str, marker: Path, crash_on: str = "refund"
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.crash_worker", "--address", dev_server.address, "--dsn", dsn,
        "--task-queue", task_queue, "--marker", str(marker), "--crash-on", crash_on,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS}, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )


async def _merchant_holding_itself_to(pool, policy, platform_rule: str) -> str:  # type: ignore[no-untyped-def]
    """A new merchant whose own policy tightens one `[platform]` deadline to seconds."""
    merchant = f"quick-{uuid.uuid4().hex[:8]}"
    registry = MerchantRegistry(pool)
    await registry.add(merchant, "Quick")
    await registry.set_policy(merchant, f"[platform]\n{platform_rule}\n", policy)
    return merchant


async def _wait_status(client: CaseClient, case_id: str, wanted: set[str], timeout: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = (await client.state(case_id)).status.value
        if status in wanted or loop.time() > deadline:
            return status
        await asyncio.sleep(0.5)


async def test_refund_once_when_worker_killed_between_payment_and_completion(
    dev_server, dev_client, postgres_dsn, pool, tmp_path
):
    task_queue = f"crash-{uuid.uuid4()}"
    marker = tmp_path / "crashed"
    client = CaseClient(dev_client, task_queue)
    case = intake(order_amount="300.00")
    first = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
    second = None
    try:
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        await client.act(case.case_id, "propose_resolution",
                         {"actor": "agent-1", "type": "refund", "amount": "300"})
        assert await asyncio.wait_for(first.wait(), 90) == -9  # killed after paying
        assert marker.exists()
        paid = await pool.fetchval("SELECT count(*) FROM refunds WHERE case_id = $1", case.case_id)
        assert paid == 1  # the money moved, but the activity never reported back

        second = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
        assert (await client.state(case.case_id)).status.value == "resolving"
        # The retry comes after the activity's start-to-close timeout.
        status = await _wait_status(client, case.case_id, {"awaiting_confirmation"}, 90)
        assert status == "awaiting_confirmation"
        await client.act(case.case_id, "confirm", {})
        state = await client.act(case.case_id, "rate", {"score": 5})
        if state.status.value == "follow_up":
            await client.act(case.case_id, "follow_up_result", {"outcome": "satisfied"})
        await client.handle(case.case_id).result()
        final = await client.state(case.case_id)
        assert final.status.value == "closed"
        assert final.resolution is not None
        assert final.resolution.steps[0].reference == marker.read_text()

        rows = await pool.fetch("SELECT key, status, amount FROM refunds WHERE case_id = $1", case.case_id)
        assert len(rows) == 1
        assert rows[0]["status"] == "executed" and str(rows[0]["amount"]) == "300.00"
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def test_record_written_once_when_worker_killed_after_commit_before_task_completes(
    dev_server, dev_client, postgres_dsn, pool, tmp_path
):
    task_queue = f"crash-record-{uuid.uuid4()}"
    marker = tmp_path / "crashed"
    client = CaseClient(dev_client, task_queue)
    case = intake()
    first = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker, "record:acknowledged")
    second = None
    try:
        await client.open(case)
        acting = asyncio.ensure_future(client.act(case.case_id, "acknowledge", {"actor": "agent-1"}))
        assert await asyncio.wait_for(first.wait(), 90) == -9  # killed right after the commit
        assert int(marker.read_text()) >= 1  # the first process wrote the rows
        before = await pool.fetch(
            "SELECT seq, type, recorded_at FROM case_events WHERE case_id = $1 ORDER BY seq", case.case_id
        )
        outbox_before = await pool.fetchval("SELECT count(*) FROM notifications WHERE case_id = $1", case.case_id)
        assert "acknowledged" in [r["type"] for r in before]

        second = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
        # The update was never answered; the replacement runs the task again and answers it.
        state = await asyncio.wait_for(acting, 90)
        assert state.status.value == "acknowledged"
        after = await pool.fetch(
            "SELECT seq, type, recorded_at FROM case_events WHERE case_id = $1 ORDER BY seq", case.case_id
        )
        # The rerun wrote nothing twice and rewrote nothing: the same rows, as first committed.
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        assert [r["seq"] for r in after] == list(range(1, state.last_seq + 1))
        assert [r["type"] for r in after].count("acknowledged") == 1
        assert await pool.fetchval(
            "SELECT count(*) FROM notifications WHERE case_id = $1", case.case_id
        ) == outbox_before
        assert await pool.fetchval("SELECT last_seq FROM cases WHERE case_id = $1", case.case_id) == state.last_seq
        # The stored state is the case's own, not the first attempt's (which decided earlier).
        stored = await pool.fetchval("SELECT state::text FROM cases WHERE case_id = $1", case.case_id)
        held = await client.state(case.case_id)
        assert CaseState.model_validate_json(stored).model_dump() == held.model_dump()
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def test_what_a_silence_pays_is_paid_once_when_the_worker_dies_after_paying(
    dev_server, dev_client, postgres_dsn, pool, tmp_path, policy
):
    """Side by side, each on a worker of its own that is killed right after paying: the refund a
    merchant's silence agreed to, and the platform paying a ruling first."""
    (tmp_path / "silence").mkdir()
    (tmp_path / "platform").mkdir()
    await asyncio.gather(
        _silence_refund(dev_server, dev_client, postgres_dsn, pool, tmp_path / "silence", policy),
        _platform_refund_first(dev_server, dev_client, postgres_dsn, pool, tmp_path / "platform", policy),
    )


async def _silence_refund(dev_server, dev_client, postgres_dsn, pool, tmp_path, policy) -> None:  # type: ignore[no-untyped-def]
    # A merchant that holds itself to answering within seconds, so its silence falls due on the
    # real server's clock while the test waits.
    merchant = await _merchant_holding_itself_to(pool, policy, 'answer_within = "3s"')
    task_queue = f"crash-silence-{uuid.uuid4()}"
    marker = tmp_path / "crashed"
    client = CaseClient(dev_client, task_queue)
    signed = datetime.now(UTC) - timedelta(days=1)
    case = intake(order_amount="300.00", merchant_id=merchant, request={
        "remedy": "refund_only", "reason": "not_received", "order": {"signed_at": signed.isoformat()}})
    first = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
    second = None
    try:
        await client.open(case)
        # Nobody answers: the silence agrees, and the refund it starts kills the worker after paying.
        assert await asyncio.wait_for(first.wait(), 90) == -9
        paid = await pool.fetch("SELECT key FROM refunds WHERE case_id = $1", case.key)
        assert [r["key"] for r in paid] == [f"{case.key}:p1:refund"]

        second = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
        status = await _wait_status(client, case.key, {"awaiting_confirmation"}, 90)
        assert status == "awaiting_confirmation"
        final = await client.state(case.key)
        assert final.request is not None and final.request.answer.value == "agreed_by_silence"
        assert final.resolution is not None and final.resolution.steps[0].reference == marker.read_text()
        rows = await pool.fetch("SELECT status, amount FROM refunds WHERE case_id = $1", case.key)
        assert [(r["status"], str(r["amount"])) for r in rows] == [("executed", "300.00")]
        events = await pool.fetch("SELECT type FROM case_events WHERE case_id = $1", case.key)
        assert [r["type"] for r in events].count("request_agreed_by_silence") == 1
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()


async def _platform_refund_first(dev_server, dev_client, postgres_dsn, pool, tmp_path, policy) -> None:  # type: ignore[no-untyped-def]
    # A merchant that holds itself to carrying rulings out within seconds: its silence falls due
    # on the real server's clock, and the platform pays first.
    merchant = await _merchant_holding_itself_to(pool, policy, 'intervention_carry_out_within = "3s"')
    task_queue = f"crash-platform-{uuid.uuid4()}"
    marker = tmp_path / "crashed"
    client = CaseClient(dev_client, task_queue)
    signed = datetime.now(UTC) - timedelta(days=1)
    case = intake(order_amount="300.00", merchant_id=merchant, request={
        "remedy": "return_refund", "reason": "no_reason",
        "order": {"signed_at": signed.isoformat(), "goods_class": "perishable"}})
    first = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
    second = None
    try:
        await client.open(case)
        await client.act(case.key, "answer_request", {"actor": "merchant-1", "decision": "reject", "reason": "fresh"})
        await client.act(case.key, "ask_intervention", {"reason": "it arrived rotten"})
        await client.act(case.key, "submit_evidence", {"actor": "merchant-1", "party": "merchant", "text": "fresh"})
        await client.act(case.key, "rule", {"actor": "arbiter-1", "role": "arbiter", "decision": "refund",
                                             "amount": "300", "reason": "rotten on arrival"})
        # Nobody carries it out: the platform pays first, and the worker dies after paying.
        assert await asyncio.wait_for(first.wait(), 90) == -9
        paid = await pool.fetch("SELECT key, kind FROM refunds WHERE case_id = $1", case.key)
        assert [(r["key"], r["kind"]) for r in paid] == [(f"{case.key}:p1:platform_refund", "platform_refund")]

        second = await _spawn_worker(dev_server, postgres_dsn, task_queue, marker)
        status = await _wait_status(client, case.key, {"awaiting_confirmation"}, 90)
        assert status == "awaiting_confirmation"
        final = await client.state(case.key)
        assert final.resolution is not None and final.resolution.steps[0].reference == marker.read_text()
        rows = await pool.fetch("SELECT kind, amount FROM refunds WHERE case_id = $1", case.key)
        assert [(r["kind"], str(r["amount"])) for r in rows] == [("platform_refund", "300.00")]
        ledger = await pool.fetch("SELECT kind, amount FROM merchant_ledger WHERE case_id = $1 ORDER BY kind",
                                  case.key)
        assert [(r["kind"], str(r["amount"])) for r in ledger] == [("platform_payout", "300.00"),
                                                                   ("recovery", "300.00")]
    finally:
        for proc in (first, second):
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
