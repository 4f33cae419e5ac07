"""Reading past cases for the what-if from PostgreSQL, a batch at a time: `recorded_cases`.

One read-only repeatable-read transaction holds a cursor over the cases opened in the period
(`cases.state` is the final `CaseState`); for each batch of cases, one statement reads their
audit trails (`case_events`, in seq order) and one the roster's recorded answers
(`routing_answers`, whose key is `case_id:n`). Three statements per batch, never one per case,
and the JSON is decoded once here, by pydantic's parser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
from pydantic_core import from_json

from cases.models import CaseState
from cases.routing_models import RoutingChange, RoutingResult
from reports.whatif_replay import routing_answers
from reports.whatif_timeline import RecordedEvent, Timeline, timeline_of

BATCH = 500

# `$3` shards the period between processes: shard `$4` of `$3` (one shard: every case).
_IN_SHARD = "($3::int = 1 OR mod(abs(hashtext(case_id)::bigint), $3::int) = $4::int)"
CASES_SQL = f"""
SELECT case_id, state::text AS state FROM cases
WHERE opened_at >= $1 AND opened_at < $2 AND {_IN_SHARD}
ORDER BY opened_at, case_id
"""
COUNT_SQL = f"SELECT count(*) FROM cases WHERE opened_at >= $1 AND opened_at < $2 AND {_IN_SHARD}"
EVENTS_SQL = """
SELECT case_id, seq, type, actor, at, data::text AS data FROM case_events
WHERE case_id = ANY($1::text[])
ORDER BY case_id, seq
"""
# Case ids cannot hold a colon (cases/models.py `CaseId`), so the key's first part is the case.
ANSWERS_SQL = """
SELECT key, result::text AS result FROM routing_answers
WHERE split_part(key, ':', 1) = ANY($1::text[])
"""
# The changes a roster call made to other cases (`drained`), which each of them heard as a notice.
NOTICES_SQL = """
SELECT d.value::text AS change FROM routing_answers a, jsonb_array_elements(a.result->'drained') d
WHERE d.value->>'case_id' = ANY($1::text[])
"""


class Unreadable(Exception):
    """A case whose record cannot be rebuilt into a timeline (no opening, a state that does not
    validate); counted by the caller, never fatal."""


Shard = tuple[int, int]  # (this shard, of how many)
ALL: Shard = (0, 1)


async def count_cases(
    conn: asyncpg.Connection, since: datetime, until: datetime, shard: Shard = ALL
) -> int:
    return int(await conn.fetchval(COUNT_SQL, since, until, shard[1], shard[0]))


async def recorded_cases(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    as_of: datetime,
    batch: int = BATCH,
    shard: Shard = ALL,
) -> AsyncIterator[list[Timeline | Unreadable]]:
    """Timelines of the cases opened in [since, until), in batches, inside the caller's
    transaction (a cursor needs one)."""
    cursor = await conn.cursor(CASES_SQL, since, until, shard[1], shard[0])
    while True:
        rows = await cursor.fetch(batch)
        if not rows:
            return
        ids = [r["case_id"] for r in rows]
        trails: dict[str, list[RecordedEvent]] = {i: [] for i in ids}
        for e in await conn.fetch(EVENTS_SQL, ids):
            trails[e["case_id"]].append(
                RecordedEvent(e["seq"], e["type"], e["actor"], e["at"], from_json(e["data"]))
            )
        answers: dict[str, list[tuple[str, Any]]] = {}
        for a in await conn.fetch(ANSWERS_SQL, ids):
            answers.setdefault(a["key"].partition(":")[0], []).append((a["key"], from_json(a["result"])))
        notices: dict[str, list[RoutingChange]] = {}
        for n in await conn.fetch(NOTICES_SQL, ids):
            change = RoutingChange.model_validate_json(n["change"])
            notices.setdefault(change.case_id, []).append(change)
        out: list[Timeline | Unreadable] = []
        for r in rows:
            case_id = r["case_id"]
            try:
                found: dict[int, RoutingResult] = routing_answers(answers.get(case_id, []))
                out.append(timeline_of(
                    CaseState.model_validate_json(r["state"]), trails[case_id], as_of, found, notices.get(case_id, [])
                ))
            except ValueError as err:  # pydantic's ValidationError is one
                out.append(Unreadable(f"{case_id}: {str(err).splitlines()[0]}"))
        yield out
