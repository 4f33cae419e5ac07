"""`aftersales dispatch` as a real process, SIGKILLed in the middle of a batch, then started again.

The partner is a fake messaging provider in this process that dedupes by idempotency key, as real
ones do, and records every raw attempt. Once it has taken K of the N keys it takes each further
one and holds the answer back, and the test kills the dispatcher while those calls are open.
A second dispatcher process then finishes the work. The partner's ledger must hold every key
exactly once, in `id` order within each case; every row must end `delivered`; and the only keys
sent twice must be ones in flight at the kill (at most one per case slot, never marked).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from devstack.processes import free_port
from tests.support.eventually import eventually
from tests.support.notification_partner import NotificationPartner
from tests.support.outbox_helpers import SECRET, fresh_database, keys_in_id_order, notice, queue, rows

pytestmark = [pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 4
CASES = 6
PER_CASE = 5
TAKEN_BEFORE_HOLD = 12


async def spawn_dispatch(log: Path, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter.cli", "dispatch", *args,
            env={**os.environ, "PYTHONPATH": str(ROOT), "TEMPORAL_CONFIG_FILE": os.devnull, **env},
            cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )


async def test_sigkill_mid_batch_resends_only_what_was_in_flight(postgres_dsn, tmp_path):
    partner = NotificationPartner(SECRET, free_port())
    partner.hold_after = TAKEN_BEFORE_HOLD
    partner.start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with fresh_database(postgres_dsn) as (dsn, pool):
            cases = [f"c-kill-{i}" for i in range(CASES)]
            queued = []
            for seq in range(1, PER_CASE + 1):
                for case_id in cases:  # one commit each, so the cases' ids interleave
                    n = notice(case_id, seq, *(("sms", "email") if seq % 2 else ("push",)))
                    await queue(pool, n)
                    queued.append(n)
            env = {"DATABASE_URL": dsn, "AFTERSALES_PROVIDER_URL": partner.url,
                   "AFTERSALES_PROVIDER_SECRET": SECRET.decode()}
            logs = [tmp_path / "dispatch-1.log", tmp_path / "dispatch-2.log"]
            doomed = await spawn_dispatch(logs[0], env, "--concurrency", str(CONCURRENCY))
            procs.append(doomed)

            async def held() -> list[str]:
                assert doomed.returncode is None, logs[0].read_text(errors="replace")[-3000:]
                return partner.snapshot()[2]

            await eventually(held, bool, "a call the partner took and holds open", timeout=120)
            doomed.kill()
            assert await doomed.wait() == -9
            # The killed process can write nothing more: what the table says now is what it did.
            at_kill = await rows(pool)
            _, ledger_at_kill, held_at_kill = partner.snapshot()
            partner.release()

            marked = {r["key"] for r in at_kill if r["status"] == "delivered"}
            pending = {r["key"] for r in at_kill} - marked
            taken = {k for k, _ in ledger_at_kill}
            assert marked <= taken
            # Taken by the partner, never marked: these must go again. (A request written just
            # before the kill may still reach the partner after it, so more may join them.)
            unmarked = taken - marked
            assert set(held_at_kill) <= unmarked and 1 <= len(unmarked) <= CONCURRENCY
            assert len(marked) >= TAKEN_BEFORE_HOLD - CONCURRENCY  # marked one by one, not at the end
            assert len(taken) < len(queued)  # the kill came mid-batch

            survivor = await spawn_dispatch(logs[1], env)
            procs.append(survivor)

            async def settled() -> list[asyncpg.Record]:
                assert survivor.returncode is None, logs[1].read_text(errors="replace")[-3000:]
                return await rows(pool)

            final = await eventually(settled, lambda rs: all(r["status"] == "delivered" for r in rs),
                                     "every row delivered after the restart", timeout=180)
            survivor.terminate()
            assert await asyncio.wait_for(survivor.wait(), 60) == 0
    finally:
        partner.stop()
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    attempts, ledger, _ = partner.snapshot()
    keys = [n.key for n in queued]
    # Every key performed exactly once at the partner, and none lost.
    assert sorted(k for k, _ in ledger) == sorted(keys)
    sent = Counter(a.key for a in attempts)
    again = {k for k, count in sent.items() if count > 1}
    # Only what was in flight at the kill went twice, each at most twice, under the same key.
    assert unmarked <= again <= pending and len(again) <= CONCURRENCY
    assert all(sent[k] == 2 for k in again)
    for case_id in cases:
        assert [k for k, c in ledger if c == case_id] == keys_in_id_order(final, case_id)
    assert len(final) == sum(len(n.channels) for n in queued)
    assert all(r["delivered_at"] is not None and r["last_error"] is None for r in final)
    print(f"\noutbox kill: {len(keys)} keys, {len(taken)} taken by the partner at the kill, "
          f"{len(again)} in flight and sent again with the same key")
    text = "".join(log.read_text(errors="replace") for log in logs)
    assert "notification dispatched" in text
    for n in queued:
        assert n.recipient not in text and n.subject not in text and n.body not in text


async def test_dispatch_refuses_bad_settings_in_one_line(postgres_dsn, tmp_path):
    async def run(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
        log = tmp_path / "refused.log"
        log.unlink(missing_ok=True)
        proc = await spawn_dispatch(log, env, *args)
        code = await asyncio.wait_for(proc.wait(), 120)
        return code, log.read_text().splitlines()

    base = {"DATABASE_URL": "", "AFTERSALES_PROVIDER_URL": ""}
    assert await run(base) == (2, ["aftersales dispatch: DATABASE_URL is not set"])
    code, lines = await run({**base, "AFTERSALES_DISPATCH_CONCURRENCY": "many"})
    assert code == 2 and len(lines) == 1 and "AFTERSALES_DISPATCH_CONCURRENCY" in lines[0]
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute("DROP DATABASE IF EXISTS outbox_unmigrated")
        await admin.execute("CREATE DATABASE outbox_unmigrated")
    finally:
        await admin.close()
    bare = postgres_dsn.replace("/aftersales?", "/outbox_unmigrated?")
    code, lines = await run({**base, "DATABASE_URL": bare})
    assert code == 2
    assert lines == ["aftersales dispatch: the database has no outbox yet; run `aftersales migrate` first"]
    code, lines = await run({**base, "DATABASE_URL": bare, "AFTERSALES_PROVIDER_URL": "ftp://partner"})
    assert code == 2 and len(lines) == 1 and "AFTERSALES_PROVIDER_URL" in lines[0]
