"""The dashboard's merchant tables, run as Grafana runs them, over a hand-built record.

The two SQL panels of deploy/grafana/dashboards/aftersales.json query the application database.
Each runs here exactly as the dashboard holds it, its `$__timeFilter` written out by the preview's
`with_time_range` as Grafana's PostgreSQL source writes it, against three merchants' cases, SLA
clocks and routing rows, and must give the rows worked out by hand below. The record is written
and read in one transaction of a database of the test's own: `now()` is the same instant for the
writes and the reads, so queue ages are exact, and no other test's cases are counted.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from cases.ids import case_key
from deploy.grafana.preview import DASHBOARD, POSTGRES, panel_rows, sql_panels, with_time_range
from tests.support.outbox_helpers import fresh_database

BREACH_PANEL = "Worst merchants by breach rate"
QUEUE_PANEL = "Worst merchants by queue age"
NAMES = {"acme": "Acme Appliances", "bolt": "Bolt Bikes", "default": "Default merchant"}

# (merchant, case id, hours since opened, clocks as (round, clock, state)). The dashboard's range
# is the last 24 h, so the cases opened 25 h and 30 h ago are out of it; each would reorder the
# table if it were counted.
CASES: list[tuple[str, str, int, list[tuple[int, str, str]]]] = [
    # Both its clocks breached: one breached case, not two.
    ("bolt", "b1", 2, [(0, "first_response", "breached"), (0, "resolution", "breached")]),
    ("bolt", "b2", 5, [(0, "resolution", "breached")]),
    ("acme", "a1", 3, [(0, "first_response", "met"), (0, "resolution", "breached")]),
    ("acme", "a0", 30, [(0, "resolution", "met")]),
    # Breached in its first round, met after a reopen: a breach is never undone.
    ("default", "d1", 1, [(0, "resolution", "breached"), (1, "resolution", "met")]),
    ("default", "d2", 6, [(0, "first_response", "breached")]),
    ("default", "d3", 12, [(0, "resolution", "breached")]),
    ("default", "d4", 20, [(0, "first_response", "warned")]),
    ("default", "d5", 23, []),
    ("default", "d0", 25, [(0, "resolution", "breached")]),
]
# In the range: bolt 2 cases, 2 breached, 100 %; acme 1 and 1, 100 %; default 5 and 3, 60 %.
# By rate, then breached cases: bolt before acme at the same rate, although acme sorts first by
# name, and default last, although it has the most breaches.
BREACH_ROWS = [
    ["bolt", "Bolt Bikes", 2, 2, 100.0],
    ["acme", "Acme Appliances", 1, 1, 100.0],
    ["default", "Default merchant", 5, 3, 60.0],
]

# (merchant, case id, status, seconds since queued_at, seconds since first_queued_at).
ROUTING: list[tuple[str, str, str, int | None, int | None]] = [
    ("acme", "a1", "queued", 7200, 7200),
    ("acme", "a0", "released", None, 100_000),
    ("default", "d1", "queued", 600, 600),
    ("default", "d2", "queued", 1200, 1200),
    ("default", "d3", "queued", 3000, 3000),
    # With an agent now: not waiting, whatever it waited before.
    ("default", "d4", "assigned", None, 90_000),
    ("bolt", "b1", "queued", 60, 60),
    # Moved to another team 5 min ago: it waits in that queue since then, not since it first queued.
    ("bolt", "b2", "queued", 300, 50_000),
]
# Waiting: acme 1 (7200 s); default 3 (600, 1200, 3000 s): oldest 3000, p90 = 1200 + 0.8 x 1800
# = 2640 (0.9 of the way along three sorted values is 0.8 past the second); bolt 2 (60, 300 s):
# oldest 300, p90 = 60 + 0.9 x 240 = 276. By the oldest wait: acme, default, bolt; neither by
# count (default first) nor by name (bolt second).
QUEUE_ROWS = [
    ["acme", "Acme Appliances", 1, 7200, 7200],
    ["default", "Default merchant", 3, 3000, 2640],
    ["bolt", "Bolt Bikes", 2, 300, 276],
]


def _panel(title: str) -> dict[str, Any]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (panel,) = [p for p in sql_panels(board) if p["title"] == title]
    return panel


async def _load(conn: asyncpg.Connection, now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO merchants (merchant_id, name) VALUES ($1, $2) ON CONFLICT (merchant_id) DO NOTHING",
        [(m, n) for m, n in NAMES.items() if m != "default"],
    )
    for merchant, case_id, hours, clocks in CASES:
        key = case_key(case_id, merchant)
        opened = now - timedelta(hours=hours)
        await conn.execute(
            "INSERT INTO cases (case_id, workflow_id, order_id, customer_id, customer_tier, channel,"
            " category, tier, status, escalation_level, order_amount, currency, opened_at, sla_state,"
            " last_seq, state)"
            " VALUES ($1, $2, $3, 'cust-1', 'regular', 'app', 'quality_issue', 'general', 'in_progress',"
            " 0, 100, 'CNY', $4, 'running', 1, '{}'::jsonb)",
            key, f"case-{key}", f"order-{key}", opened,
        )
        await conn.executemany(
            "INSERT INTO sla_clocks (case_id, round, clock, target_seconds, business, target_label,"
            " started_at, state) VALUES ($1, $2, $3, 3600, false, '1h', $4, $5)",
            [(key, round_, clock, opened, state) for round_, clock, state in clocks],
        )
    for merchant, case_id, status, waiting, since_first in ROUTING:
        key = case_key(case_id, merchant)
        await conn.execute(
            "INSERT INTO case_routing (case_id, workflow_id, team, agent_id, status, requirement, priority,"
            " queued_at, first_queued_at) VALUES ($1, $2, 'returns', $3, $4, '{}'::jsonb, 1, $5, $6)",
            key, f"case-{key}", "agent-1" if status == "assigned" else None, status,
            None if waiting is None else now - timedelta(seconds=waiting),
            None if since_first is None else now - timedelta(seconds=since_first),
        )


@pytest.fixture
async def loaded(postgres_dsn: str) -> AsyncIterator[tuple[asyncpg.Connection, datetime]]:
    async with fresh_database(postgres_dsn) as (_, pool), pool.acquire() as conn, conn.transaction():
        now: datetime = await conn.fetchval("SELECT now()")
        await _load(conn, now)
        yield conn, now


def test_the_merchant_tables_query_the_application_database() -> None:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [p["title"] for p in sql_panels(board)] == [BREACH_PANEL, QUEUE_PANEL]
    for panel in sql_panels(board):
        assert panel["type"] == "table"
        (target,) = panel["targets"]
        assert target["datasource"] == panel["datasource"] and panel["datasource"]["type"] == POSTGRES
        assert target["format"] == "table" and target["rawQuery"] is True
    assert "$__timeFilter(opened_at)" in _panel(BREACH_PANEL)["targets"][0]["rawSql"]


def test_the_time_filter_is_written_out_as_grafana_writes_it() -> None:
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    end = datetime(2025, 3, 2, 8, 0, 0, 500_000, tzinfo=UTC)
    assert with_time_range("WHERE $__timeFilter( opened_at ) AND x", start, end) == (
        "WHERE opened_at BETWEEN '2025-03-01T08:00:00Z' AND '2025-03-02T08:00:00.500000Z' AND x"
    )
    with pytest.raises(ValueError, match="cannot write out"):
        with_time_range("SELECT $__timeFrom()", start, end)


async def test_worst_merchants_by_breach_rate(loaded: tuple[asyncpg.Connection, datetime]) -> None:
    conn, now = loaded
    columns, rows = await panel_rows(conn, _panel(BREACH_PANEL), now - timedelta(hours=24), now)
    assert columns == ["merchant", "name", "cases", "breached", "breach rate"]
    assert rows == BREACH_ROWS


async def test_worst_merchants_by_queue_age(loaded: tuple[asyncpg.Connection, datetime]) -> None:
    conn, now = loaded
    columns, rows = await panel_rows(conn, _panel(QUEUE_PANEL), now - timedelta(hours=24), now)
    assert columns == ["merchant", "name", "waiting", "oldest wait", "p90 wait"]
    assert rows == QUEUE_ROWS
