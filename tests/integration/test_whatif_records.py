"""`aftersales whatif` on records it cannot use: damaged rows in PostgreSQL make unreadable
cases, counted and left out of both sides, and a database that refuses a read is one line.

The cases are driven through the pure machine and written straight into the database the tests
share, opened in a month of 2019 that no other test uses, and always read by their ids.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from cases.policy.snapshot import load_policy
from reports.whatif import parallel as whatif_parallel
from reports.whatif.command import add_whatif_parser, run_whatif
from reports.whatif.parallel import whatif_from_database
from reports.whatif.run import build_whatif
from runtime.errors import ServiceError
from runtime.settings import Settings
from tests.support.recorded_cases import CASE_COLUMNS, recorded_case

SINCE = datetime(2019, 3, 1, tzinfo=UTC)
UNTIL = datetime(2019, 4, 1, tzinfo=UTC)
POLICY = load_policy(None)
DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "cases" / "default_policy.toml"
SECRET = "+8613912345678"
@pytest.fixture
async def damaged(pool: asyncpg.Pool) -> AsyncIterator[dict[str, str]]:
    """One good case and one of each kind of damage, by role; removed again afterwards."""
    tag = uuid.uuid4().hex[:8]
    roles = ("good", "data_list", "data_string", "data_null", "answer", "notice")
    ids = {role: f"wd{tag}{k}" for k, role in enumerate(roles)}
    rows, events = [], []
    for k, case_id in enumerate(ids.values()):
        row, trail = recorded_case(case_id, SINCE + timedelta(days=1, hours=k))
        rows.append(row)
        events += trail
    # An event's data that is JSON but not an object (the column only says jsonb).
    damage = {"data_list": "[]", "data_string": json.dumps(f"call {SECRET}"), "data_null": "null"}
    events = [(c, seq, t, a, at, damage[r] if seq == 2 and (r := _role(ids, c)) in damage else d)
              for c, seq, t, a, at, d in events]
    answers = [
        (f"{ids['answer']}:1", json.dumps({"change": SECRET})),  # not a RoutingResult
        # Another case's answer that drained this one with a change that does not validate.
        (f"wdo{tag}a:1", json.dumps({"drained": [{"case_id": ids["notice"], "seq": SECRET}]})),
        # Answers whose `drained` is JSON null or an object: no notices, and no failure.
        (f"wdo{tag}b:1", json.dumps({"drained": None})),
        (f"wdo{tag}c:1", json.dumps({"drained": {"case_id": ids["good"]}})),
    ]
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("cases", records=rows, columns=CASE_COLUMNS)
        await conn.copy_records_to_table(
            "case_events", records=events, columns=("case_id", "seq", "type", "actor", "at", "data"))
        await conn.executemany("INSERT INTO routing_answers (key, result) VALUES ($1, $2::jsonb)", answers)
    try:
        yield ids
    finally:
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM routing_answers WHERE key = ANY($1::text[])",
                               [k for k, _ in answers])
            await conn.execute("DELETE FROM case_events WHERE case_id = ANY($1::text[])", list(ids.values()))
            await conn.execute("DELETE FROM cases WHERE case_id = ANY($1::text[])", list(ids.values()))


def _role(ids: dict[str, str], case_id: str) -> str:
    return next(role for role, i in ids.items() if i == case_id)


async def test_damaged_rows_are_unreadable_cases_never_a_crash(
    postgres_dsn: str, damaged: dict[str, str]
) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        report = await build_whatif(conn, SINCE, UNTIL, POLICY, "default", case_ids=list(damaged.values()))
    finally:
        await conn.close()
    # The good case on both sides, replayed exactly; each of the five damaged ones only failed.
    assert (report.overall.actual.cases, report.overall.candidate.cases) == (1, 1)
    c = report.counts
    assert (c.failed_cases, c.changed_cases) == (5, 0)
    failed = {line.split(":")[0] for line in c.examples}
    assert failed == {i for role, i in damaged.items() if role != "good"}
    assert all(line.endswith(": not replayed") for line in c.examples)
    assert not any(SECRET in line for line in c.examples), c.examples


@pytest.fixture
async def reader(pool: asyncpg.Pool, postgres_dsn: str) -> AsyncIterator[str]:
    """The DSN of a role that may read the cases and their trails but not the roster's answers."""
    role = f"whatif_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE ROLE {role} LOGIN")
        await conn.execute(f"GRANT SELECT ON cases, case_events TO {role}")
    parts = urlsplit(postgres_dsn)
    host = parts.netloc.rpartition("@")[2]
    try:
        yield urlunsplit(parts._replace(netloc=f"{role}@{host}"))
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"REVOKE ALL ON cases, case_events FROM {role}")
            await conn.execute(f"DROP ROLE {role}")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aftersales")
    add_whatif_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["whatif", *argv])


async def test_a_read_the_database_refuses_is_one_line_in_one_process_and_in_several(
    reader: str, damaged: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", reader)
    period = ["--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    with pytest.raises(ServiceError, match="permission denied for table routing_answers"):
        await run_whatif(_args("--policy", str(DEFAULT_POLICY), *period), Settings.from_env())

    # Two worker processes, each failing on its own connection: the same one line comes back.
    monkeypatch.setattr(whatif_parallel, "PARALLEL_FROM", 1)
    conn = await asyncpg.connect(reader)
    try:
        with pytest.raises(ServiceError, match="permission denied for table routing_answers"):
            await whatif_from_database(conn, reader, SINCE, UNTIL, POLICY, "default", workers=2,
                                       case_ids=list(damaged.values()))
    finally:
        await conn.close()
