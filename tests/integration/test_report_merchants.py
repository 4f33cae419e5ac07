"""The service report and the what-if, broken down by merchant, against the embedded PostgreSQL:
every per-merchant figure equals one worked out by hand in the comments next to it.

The report's cases (May 2023) go straight into `cases` and `sla_clocks` inside a transaction that
is rolled back; each case's key names its merchant (`north~...`), and `cases.merchant_id` is
derived from it by PostgreSQL. The what-if's cases (August 2023) are driven through the pure case
machine, committed, read back by their ids only and removed afterwards. Neither month is used by
any other test, and every case id carries a tag unique to the run.
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cases.ids import case_key
from cases.policy.merchant import merged, parse_overlay
from cases.policy.snapshot import load_policy
from reports.service.command import add_report_parser, run_report
from reports.service.figures import Report
from reports.service.html import render_html
from reports.service.query import build_report
from reports.service.render import render_text
from reports.whatif.figures import WhatIf
from reports.whatif.render import render_text as render_whatif_text
from reports.whatif.run import build_whatif
from runtime.settings import Settings
from tests.support.recorded_cases import CASE_COLUMNS, recorded_case

SINCE = datetime(2023, 5, 1, tzinfo=UTC)
UNTIL = datetime(2023, 6, 1, tzinfo=UTC)
CLOCKS = {"FR": "first_response", "RES": "resolution", "APP": "approval", "CL": "closure"}

# Fields: merchant, case, tier, category, status, first response (minutes after opening),
# resolution type, rating, escalations, reopens, clocks. Clock outcomes as in test_report.py:
# met = met in time; late = breached, then met; breached = never met; running and stopped have
# no verdict. A digit after the clock is the round of a reopened case.
CASES: list[tuple[Any, ...]] = [
    ("default", "D1", "general", "logistics", "closed", 60, "refund", 5, 0, 0, "FR:met RES:met"),
    ("default", "D2", "general", "billing", "closed", 120, "explanation", 2, 1, 0,
     "FR:met RES:late"),
    ("default", "D3", "general", "billing", "registered", None, None, None, 0, 0,
     "FR:running RES:running"),
    ("north", "N1", "complex", "product_quality", "closed", 90, "refund", 4, 0, 0,
     "FR:met RES:met"),
    ("north", "N2", "complex", "product_quality", "closed", 1800, "exchange", 1, 2, 1,
     "FR:late FR1:met RES:met RES1:met"),
    ("north", "N3", "general", "logistics", "withdrawn", 45, None, None, 0, 0,
     "FR:met RES:stopped"),
    ("north", "N4", "general", "billing", "registered", None, None, None, 1, 0, "FR:breached"),
    ("south", "S1", "urgent", "safety", "closed", 20, "refund", 5, 1, 0,
     "FR:met RES:late APP:met CL:met"),
    ("south", "S2", "urgent", "product_quality", "acknowledged", 90, None, None, 2, 0,
     "FR:late RES:breached"),
    ("west", "W1", "general", "other", "registered", None, None, None, 0, 0,
     "FR:running RES:running"),
]
# North's, opened exactly at the exclusive end: were it counted, north would have 5 cases and a
# third breach.
OUTSIDE = ("north", "XN", "general", "billing", "registered", None, None, None, 3, 0,
           "FR:breached RES:breached")

# ---------------------------------------------------------------------------------------------
# Expected figures, by hand.
#
# Clocks (decided = met or breached; on time = met without a breach):
#   default  FR  D1 D2 met, D3 running                         -> 2 decided, 2 on time
#            RES D1 met, D2 late, D3 running                   -> 2, 1
#            4 decided, 3 on time: 1 breached, breach rate 1/4 = 25 %
#   north    FR  N1 met, N2 late, N2' met, N3 met, N4 breached -> 5, 3
#            RES N1 met, N2 met, N2' met, N3 stopped           -> 3, 3
#            8 decided, 6 on time: 2 breached, breach rate 2/8 = 25 %
#   south    FR  S1 met, S2 late -> 2, 1; RES S1 late, S2 breached -> 2, 0
#            APP S1 met -> 1, 1; CL S1 met -> 1, 1
#            6 decided, 3 on time: 3 breached, breach rate 3/6 = 50 %
#   west     FR, RES running -> 0 decided each: no breach rate at all
#   all      18 decided, 12 on time: 6 breached, 1/3
# Worst first: south (50 %), then north and default (25 % each; north has 4 cases, default 3),
# then west (no rate).
#
# First response minutes, cases with one; percentile_cont(p) at position p*(n-1):
#   default 60 120        p50 90 min = 5400 s;  p90 60 + 0.9*60 = 114 min = 6840 s
#   north   45 90 1800    p50 90 min = 5400 s;  p90 pos 1.8: 90 + 0.8*1710 = 1458 min = 87480 s
#   south   20 90         p50 55 min = 3300 s;  p90 20 + 0.9*70 = 83 min = 4980 s
#   west    none          no percentiles
# resolved (a resolution executed): default D1 D2; north N1 N2; south S1; west none
# handled (+ closed, withdrawn, lapsed): default D1 D2; north N1 N2 N3; south S1; west none
# ratings: default 5 2 (mean 3.5, 1 satisfied); north 4 1 (2.5, 1); south 5 (5.0, 1); west none
# escalated cases / escalations: default D2 1 -> 1 / 1; north N2 2, N4 1 -> 2 / 3;
#   south S1 1, S2 2 -> 2 / 3; west 0 / 0
# reopened: north N2 -> 1; the others 0
#
# Columns: cases, responded, FR p50 s, FR p90 s, resolved, handled, rated, CSAT mean,
#          satisfied, escalated cases, escalations, reopened
EXPECTED: dict[str, tuple[Any, ...]] = {
    "default": (3, 2, 5400.0, 6840.0, 2, 2, 2, 3.5, 1, 1, 1, 0),
    "north": (4, 3, 5400.0, 87480.0, 2, 3, 2, 2.5, 1, 2, 3, 1),
    "south": (2, 2, 3300.0, 4980.0, 1, 1, 1, 5.0, 1, 2, 3, 0),
    "west": (1, 0, None, None, 0, 0, 0, None, 0, 0, 0, 0),
}
# Per clock (decided, on time), then (clocks decided, clocks breached, breach rate).
EXPECTED_CLOCKS: dict[str, dict[str, tuple[int, int]]] = {
    "default": {"first_response": (2, 2), "resolution": (2, 1)},
    "north": {"first_response": (5, 3), "resolution": (3, 3)},
    "south": {"first_response": (2, 1), "resolution": (2, 0), "closure": (1, 1),
              "approval": (1, 1)},
    "west": {"first_response": (0, 0), "resolution": (0, 0)},
}
EXPECTED_BREACHES: dict[str, tuple[int, int, float | None]] = {
    "default": (4, 1, 1 / 4),
    "north": (8, 2, 2 / 8),
    "south": (6, 3, 3 / 6),
    "west": (0, 0, None),
}
WORST_FIRST = ["south", "north", "default", "west"]

_INSERT_CASE = """
INSERT INTO cases (case_id, workflow_id, order_id, customer_id, customer_tier, channel, category,
    tier, status, escalation_level, order_amount, currency, opened_at, first_response_at,
    resolved_at, closed_at, resolution_type, rating, reopen_count, escalations, sla_state,
    last_seq, state)
VALUES ($1, $2, 'order-1', 'cust-1', 'standard', 'app', $3, $4, $5, 3, 300.00, 'CNY', $6, $7,
    $8, $9, $10, $11, $12, $13, 'met', 1, '{}'::jsonb)
"""
_INSERT_CLOCK = """
INSERT INTO sla_clocks (case_id, round, clock, turn, target_seconds, business, target_label,
    started_at, due_at, state, warned_at, breached_at, met_at, stopped_at, elapsed_seconds)
VALUES ($1, $2, $3, 0, 3600, false, '1h', $4, $5, $6, NULL, $7, $8, $9, NULL)
"""


async def insert_case(
    conn: asyncpg.Connection, tag: str, opened_at: datetime, spec: tuple[Any, ...]
) -> None:
    (merchant, name, tier, category, status, fr, resolution, rating, escalations, reopens,
     clocks) = spec
    key = case_key(f"{tag}{name}", merchant)
    hour = timedelta(hours=1)
    await conn.execute(
        _INSERT_CASE, key, f"case-{key}", category, tier, status, opened_at,
        opened_at + timedelta(minutes=fr) if fr is not None else None,
        opened_at + 40 * hour if resolution else None,
        opened_at + 200 * hour if status in ("closed", "withdrawn") else None,
        resolution, rating, reopens, escalations,
    )
    for token in clocks.split():
        match = re.fullmatch(r"([A-Z]+)(\d?):(\w+)", token)
        assert match is not None, token
        short, round_, outcome = match[1], int(match[2] or 0), match[3]
        started = opened_at + round_ * 100 * hour
        due = started + hour
        await conn.execute(
            _INSERT_CLOCK, key, round_, CLOCKS[short], started, due,
            {"late": "breached", "stopped": "running"}.get(outcome, outcome),
            due if outcome in ("late", "breached") else None,
            {"met": started + hour / 2, "late": started + 2 * hour}.get(outcome),
            started + 3 * hour if outcome == "stopped" else None,
        )


async def insert_fixture(conn: asyncpg.Connection, tag: str, since: datetime) -> list[str]:
    """The cases of CASES opened from `since`, and north's case at the end of that month; their
    keys."""
    for i, spec in enumerate(CASES):
        await insert_case(conn, tag, since + timedelta(days=i, hours=i % 5), spec)
    await insert_case(conn, tag, since + (UNTIL - SINCE), OUTSIDE)
    return [case_key(f"{tag}{spec[1]}", spec[0]) for spec in (*CASES, OUTSIDE)]


@pytest.fixture
async def report(conn: asyncpg.Connection) -> Report:
    await insert_fixture(conn, f"rm{uuid.uuid4().hex[:8]}-", SINCE)
    return await build_report(conn, SINCE, UNTIL)


async def test_merchant_figures_equal_hand_computed(report: Report) -> None:
    # The generated column sorted every case into the merchant its key names.
    assert list(report.by_merchant) == ["default", "north", "south", "west"]
    for name, expected in EXPECTED.items():
        g = report.by_merchant[name]
        got = (g.cases, g.responded, g.first_response_p50_seconds, g.first_response_p90_seconds,
               g.resolved, g.handled, g.rated, g.csat_mean, g.satisfied, g.escalated_cases,
               g.escalations, g.reopened)
        assert got == pytest.approx(expected), name
        assert {c: (f.decided, f.on_time) for c, f in g.clocks.items()} == EXPECTED_CLOCKS[name]
        assert (g.clocks_decided, g.clocks_breached, g.breach_rate) == EXPECTED_BREACHES[name]
    assert (report.overall.cases, report.overall.clocks_breached) == (10, 6)
    assert report.overall.breach_rate == pytest.approx(1 / 3)
    # The merchants split the period's cases: no case is in two, none is left out.
    assert sum(g.cases for g in report.by_merchant.values()) == report.overall.cases
    # The other breakdowns are untouched by the new grouping: general is D1-D3, N3, N4, W1.
    assert report.by_tier["general"].cases == 6


async def test_pages_show_the_worst_merchants_and_the_json_all(report: Report) -> None:
    lines = render_text(report, merchants=2).splitlines()
    start = lines.index("By merchant (the 2 worst of 4 by breach rate)")
    table = lines[start + 1 : start + 5]
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    # south: 3 of 6 clocks breached, first response 1 of 2 on time, resolution 0 of 2, FR p50
    # 55 min, 1 of 2 resolved and handled, satisfied 1 of 1, escalated 2 of 2, none reopened
    assert table[2].split() == ["south", "2", "50.0%", "(3/6)", "50.0%", "(1/2)", "0.0%", "(0/2)",
                                "55m", "50.0%", "50.0%", "100.0%", "100.0%", "0.0%"]
    # north: 2 of 8, first response 3 of 5, resolution 3 of 3, p50 90 min, 2 and 3 of 4,
    # satisfied 1 of 2, escalated 2 of 4, reopened 1 of 4
    assert table[3].split() == ["north", "4", "25.0%", "(2/8)", "60.0%", "(3/5)", "100.0%",
                                "(3/3)", "1h", "30m", "50.0%", "75.0%", "50.0%", "50.0%", "25.0%"]
    assert lines[start + 5] == "2 more merchants not shown; the JSON output holds every merchant."

    lines = render_text(report).splitlines()
    start = lines.index("By merchant (4, worst breach rate first)")
    assert [line.split()[0] for line in lines[start + 3 : start + 7]] == WORST_FIRST
    west = lines[start + 6].split()
    assert west[:4] == ["west", "1", "-", "(0/0)"]

    data = json.loads(report.model_dump_json())
    assert set(data["by_merchant"]) == set(WORST_FIRST)
    assert data["by_merchant"]["south"]["breach_rate"] == 0.5
    assert data["by_merchant"]["west"]["breach_rate"] is None
    assert Report.model_validate(data) == report

    pytest.importorskip("matplotlib")
    page = render_html(report, merchants=1)
    assert "<h2>By merchant (the 1 worst of 4 by breach rate)</h2>" in page
    assert "<td>south</td><td>2</td><td>50.0% (3/6)</td>" in page
    assert "<td>north</td>" not in page
    assert "3 more merchants not shown" in page


async def test_a_period_without_cases_has_no_merchant_table(conn: asyncpg.Connection) -> None:
    empty = await build_report(conn, datetime(2001, 1, 1, tzinfo=UTC),
                               datetime(2001, 2, 1, tzinfo=UTC))
    assert empty.by_merchant == {}
    assert "By merchant" not in render_text(empty)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aftersales")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["report", *argv])


async def test_the_report_command_shows_as_many_merchants_as_asked(
    pool: asyncpg.Pool, postgres_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # run_report reads over its own connection, so these rows are committed, in June 2023, which
    # no other test uses, and deleted afterwards.
    since = datetime(2023, 6, 1, tzinfo=UTC)
    period = ("--since", "2023-06-01T00:00Z", "--until", "2023-07-01T00:00Z")
    async with pool.acquire() as connection:
        keys = await insert_fixture(connection, f"rmc{uuid.uuid4().hex[:8]}-", since)
    settings = Settings(database_url=postgres_dsn, home=tmp_path)
    try:
        await run_report(_parse(*period, "--merchants", "3"), settings)
        lines = capsys.readouterr().out.splitlines()
        start = lines.index("By merchant (the 3 worst of 4 by breach rate)")
        assert [line.split()[0] for line in lines[start + 3 : start + 6]] == WORST_FIRST[:3]
        assert lines[start + 6] == "1 more merchant not shown; the JSON output holds every merchant."

        await run_report(_parse(*period, "--merchants", "1", "--format", "json"), settings)
        written = Report.model_validate_json(capsys.readouterr().out)
        assert list(written.by_merchant) == ["default", "north", "south", "west"]
        assert written.by_merchant["north"].clocks_breached == 2
    finally:
        await pool.execute("DELETE FROM sla_clocks WHERE case_id = ANY($1::text[])", keys)
        await pool.execute("DELETE FROM cases WHERE case_id = ANY($1::text[])", keys)


# ---------------------------------------------------------------------------------------------
# The what-if, by merchant

WHATIF_SINCE = datetime(2023, 8, 1, tzinfo=UTC)
WHATIF_UNTIL = datetime(2023, 9, 1, tzinfo=UTC)
POLICY = load_policy(None)
# The candidate answers a general case within 2 hours instead of 24.
CANDIDATE = merged(POLICY, parse_overlay('[targets.general]\nfirst_response = "2h"\n'))
# Every case is general (the factory's intake), acknowledged after `minutes`, and withdrawn
# 5 minutes later, which stops every other clock undecided. QUICK answers in 5 minutes, SLOW in
# 3 hours.
QUICK, SLOW = 5, 180
WHATIF_CASES: list[tuple[str, int]] = [
    ("default", QUICK),
    ("north", QUICK), ("north", SLOW), ("north", SLOW),
    ("south", QUICK), ("south", SLOW),
]
# By hand. Recorded (24 h): every first response met on time, 1 decided clock a case, nothing
# breached, no escalation. Candidate (2 h): QUICK still on time; SLOW warns at 96 min (80 %),
# breaches at 120 min and escalates once, and its answer at 3 h decides nothing more.
#   merchant  cases  decided  breaches actual -> candidate  rate actual -> candidate  escalations
#   default   1      1        0 -> 0                        0 % -> 0 %                0 -> 0
#   north     3      3        0 -> 2                        0 % -> 2/3                0 -> 2
#   south     2      2        0 -> 1                        0 % -> 1/2                0 -> 1
# Worst under the candidate: north (2/3), south (1/2), default (0 %).
EXPECTED_WHATIF: dict[str, tuple[int, int, int, int, float, float, int, int]] = {
    "default": (1, 1, 0, 0, 0.0, 0.0, 0, 0),
    "north": (3, 3, 0, 2, 0.0, 2 / 3, 0, 2),
    "south": (2, 2, 0, 1, 0.0, 1 / 2, 0, 1),
}
@pytest.fixture
async def recorded(pool: asyncpg.Pool) -> AsyncIterator[list[str]]:
    """The what-if's cases, committed; their keys. Removed again afterwards."""
    tag = uuid.uuid4().hex[:8]
    rows, events = [], []
    for k, (merchant, minutes) in enumerate(WHATIF_CASES):
        row, trail = recorded_case(f"wm{tag}{k}", WHATIF_SINCE + timedelta(days=k + 1), merchant=merchant,
                                   answer_after=minutes, withdraw_after=minutes + 5)
        rows.append(row)
        events += trail
    keys = [row[0] for row in rows]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("cases", records=rows, columns=CASE_COLUMNS)
        await conn.copy_records_to_table(
            "case_events", records=events,
            columns=("case_id", "seq", "type", "actor", "at", "data"))
        # The key and the generated column agree on every merchant.
        found = await conn.fetch("SELECT merchant_id FROM cases WHERE case_id = ANY($1::text[])",
                                 keys)
        assert sorted(r["merchant_id"] for r in found) == sorted(m for m, _ in WHATIF_CASES)
    try:
        yield keys
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM case_events WHERE case_id = ANY($1::text[])", keys)
            await conn.execute("DELETE FROM cases WHERE case_id = ANY($1::text[])", keys)


async def test_whatif_merchant_figures_equal_hand_computed(
    postgres_dsn: str, recorded: list[str]
) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        report = await build_whatif(conn, WHATIF_SINCE, WHATIF_UNTIL, CANDIDATE, "general-2h",
                                    case_ids=recorded)
    finally:
        await conn.close()
    assert report.counts.failed_cases == 0
    assert list(report.by_merchant) == ["default", "north", "south"]
    for name, expected in EXPECTED_WHATIF.items():
        a, c = report.by_merchant[name].actual, report.by_merchant[name].candidate
        got = (a.cases, c.clocks_decided, a.breaches, c.breaches, a.breach_rate, c.breach_rate,
               a.escalations, c.escalations)
        assert got == pytest.approx(expected), name
        assert a.clocks_decided == c.clocks_decided, name
        # each SLOW case warns once under the candidate, before its one breach
        assert c.clocks["first_response"].warned == expected[3], name
        assert a.clocks["first_response"].warned == 0, name
    assert (report.overall.actual.breaches, report.overall.candidate.breaches) == (0, 3)

    lines = render_whatif_text(report, merchants=2).splitlines()
    start = lines.index("By merchant (the 2 worst of 3 by candidate breach rate)")
    north, south = lines[start + 3], lines[start + 4]
    assert north.split()[:2] == ["north", "3"]
    assert "0 -> 2 (+2) = 0.0% -> 66.7%" in north
    assert south.split()[:2] == ["south", "2"] and "0 -> 1 (+1) = 0.0% -> 50.0%" in south
    assert lines[start + 5] == "1 more merchant not shown; the JSON output holds every merchant."
    again = WhatIf.model_validate_json(report.model_dump_json())
    assert again.by_merchant["default"].candidate.cases == 1
