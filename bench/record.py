"""`python -m bench.record`: what outbound webhooks cost the record path.

Every case task ends in one `record_case` call, and since webhooks that call also writes the
deliveries of the events it inserted. Three databases on one embedded PostgreSQL, written in
interleaved rounds so they share the machine's noise:
- baseline: the schema before webhooks (record_case as migration 004 left it);
- no subscriber: the current schema with no subscription (the cost every deployment pays);
- subscribed: two subscriptions, one to every event and one to a single event type.
Each write is a case's opening task (its events, clocks and outbox rows), as the worker sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from activities.contracts import RecordCase
from activities.db import create_pool
from activities.record_input import record_case
from activities.schema import migrate
from activities.store import PostgresProjection
from activities.webhooks.subscriptions import WebhookSubscriptions
from cases.core.machine import CaseMachine
from cases.models import CaseIntake
from cases.policy.snapshot import load_policy
from devstack.postgres import EmbeddedPostgres

SQL = Path(__file__).resolve().parent.parent / "activities" / "sql"
WEBHOOK_MIGRATION = "008_webhooks.sql"


def a_case(policy_snapshot: object, now: datetime) -> RecordCase:
    case_id = f"rb-{uuid.uuid4().hex[:12]}"
    intake = CaseIntake.model_validate({
        "case_id": case_id, "order_id": "8812", "channel": "app", "category": "description_mismatch",
        "description": "The colour differs from the listing.", "order_amount": "299.00",
        "customer": {"id": "cust-1", "name": "Li Wei", "phone": "+8613800000000"},
    })
    machine = CaseMachine.open(case_id, intake, policy_snapshot, now)  # type: ignore[arg-type]
    return record_case(machine.state, machine.events, notifications=machine.notifications)


async def database(admin_dsn: str, *, webhooks: bool) -> tuple[str, asyncpg.Pool]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    if webhooks:
        await migrate(dsn)
    else:
        conn = await asyncpg.connect(dsn)
        try:
            for path in sorted(SQL.glob("*.sql")):
                if path.name != WEBHOOK_MIGRATION:
                    await conn.execute(path.read_text(encoding="utf-8"))
        finally:
            await conn.close()
    return dsn, await create_pool(dsn)


async def write_round(pool: asyncpg.Pool, records: list[RecordCase]) -> list[float]:
    projection = PostgresProjection(pool)
    times = []
    for record in records:
        started = time.perf_counter()
        await projection.write(record)
        times.append(time.perf_counter() - started)
    return times


async def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    policy = load_policy()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg")
        admin_dsn = server.start()
        try:
            sides = {
                "baseline": await database(admin_dsn, webhooks=False),
                "no subscriber": await database(admin_dsn, webhooks=True),
                "subscribed": await database(admin_dsn, webhooks=True),
            }
            subs = WebhookSubscriptions(sides["subscribed"][1])
            await subs.add("https://hooks.example.com/all", "*")
            await subs.add("https://hooks.example.com/breaches", "clock_breached")
            times: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(rounds):
                for side, (_, pool) in sides.items():
                    now = datetime.now(UTC)
                    records = [a_case(policy.snapshot(now), now) for _ in range(per_round)]
                    times[side] += await write_round(pool, records)
            for _, pool in sides.values():
                await pool.close()
            return times
        finally:
            server.stop()


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.record", description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args(argv)
    times = asyncio.run(measure(args.rounds, args.per_round))
    base = times["baseline"]
    print(f"record_case, one opening task per write, {len(base)} writes per side")
    print(f"{'side':<14} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10} {'p99 ratio':>10}")
    for side, values in times.items():
        p50, p99 = statistics.median(values), quantile(values, 0.99)
        print(f"{side:<14} {p50 * 1000:8.2f} {p99 * 1000:8.2f} "
              f"{p50 / statistics.median(base):10.2f} {p99 / quantile(base, 0.99):10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
