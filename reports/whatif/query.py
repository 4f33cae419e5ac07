"""Reading past cases for the what-if from PostgreSQL, a batch at a time: `recorded_cases`.

One read-only repeatable-read transaction holds a cursor over the cases opened in the period
(`cases.state` is the final `CaseState`); for each batch of cases, one statement reads their
audit trails (`case_events`, in seq order), one the roster's recorded answers
(`routing_answers`, whose key is `case_id:n`) and one the notices other cases' answers gave them.
Three statements per batch, never one per case, each served by an index (activities/sql/
009_whatif_indexes.sql), and the JSON is decoded once here, by pydantic's parser. Whatever one
case's rows hold, the case comes back as an `Unreadable` at worst, never as an exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import asyncpg
from pydantic_core import from_json

from cases.models import CaseState
from cases.routing.models import RoutingChange, RoutingResult
from reports.whatif.replay import describe_error, routing_answers
from reports.whatif.timeline import RecordedEvent, Timeline, timeline_of

BATCH = 500

# `$3` shards the period between processes: shard `$4` of `$3` (one shard: every case); `$5`,
# when not null, keeps only the cases it names.
_SELECTED = (
    "opened_at >= $1 AND opened_at < $2"
    " AND ($3::int = 1 OR mod(abs(hashtext(case_id)::bigint), $3::int) = $4::int)"
    " AND ($5::text[] IS NULL OR case_id = ANY($5::text[]))"
)
CASES_SQL = f"""
SELECT case_id, state::text AS state FROM cases
WHERE {_SELECTED}
ORDER BY opened_at, case_id
"""
COUNT_SQL = f"SELECT count(*) FROM cases WHERE {_SELECTED}"
EVENTS_SQL = """
SELECT case_id, seq, type, actor, at, data::text AS data FROM case_events
WHERE case_id = ANY($1::text[])
ORDER BY case_id, seq
"""
# Case ids cannot hold a colon (cases/models.py `CaseId`), so the key's first part is the case;
# `routing_answers_case` indexes exactly this expression.
ANSWERS_SQL = """
SELECT key, result::text AS result FROM routing_answers
WHERE split_part(key, ':', 1) = ANY($1::text[])
"""
# The changes a roster call made to other cases (`drained`), which each of them heard as a
# notice: per case of the batch, the answers whose `drained` holds it, found by containment in
# the GIN index `routing_answers_drained`, never a walk over every answer ever given. The
# `OFFSET 0` keeps the lookup a lateral one per case: flattened into a join, the planner
# prefers to scan the whole table (EXPLAIN, 100,000 answers: 4 ms against 350 ms). A `drained`
# that is not an array (a damaged row) holds no notice.
NOTICES_SQL = """
SELECT c.id AS case_id, d.value::text AS change
FROM unnest($1::text[]) AS c(id)
CROSS JOIN LATERAL (
  SELECT a.result->'drained' AS drained FROM routing_answers a
  WHERE a.result->'drained' @> jsonb_build_array(jsonb_build_object('case_id', c.id))
  OFFSET 0
) AS a
CROSS JOIN LATERAL jsonb_array_elements(
  CASE WHEN jsonb_typeof(a.drained) = 'array' THEN a.drained ELSE '[]'::jsonb END
) AS d
WHERE d.value->>'case_id' = c.id
"""


class Unreadable(Exception):
    """A case whose record cannot be rebuilt into a timeline (no opening, a state, an event, an
    answer or a notice that does not validate); counted by the caller, never fatal. Its text
    names the case and the kind of fault, never the values found (they may be personal)."""


Shard = tuple[int, int]  # (this shard, of how many)
ALL: Shard = (0, 1)


def _ids(case_ids: Sequence[str] | None) -> list[str] | None:
    return None if case_ids is None else list(case_ids)


async def count_cases(
    conn: asyncpg.Connection, since: datetime, until: datetime, shard: Shard = ALL,
    case_ids: Sequence[str] | None = None,
) -> int:
    return int(await conn.fetchval(COUNT_SQL, since, until, shard[1], shard[0], _ids(case_ids)))


async def recorded_cases(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    as_of: datetime,
    batch: int = BATCH,
    shard: Shard = ALL,
    case_ids: Sequence[str] | None = None,
) -> AsyncIterator[list[Timeline | Unreadable]]:
    """Timelines of the cases opened in [since, until) (among `case_ids` when given), in
    batches, inside the caller's transaction (a cursor needs one)."""
    cursor = await conn.cursor(CASES_SQL, since, until, shard[1], shard[0], _ids(case_ids))
    while True:
        rows = await cursor.fetch(batch)
        if not rows:
            return
        ids = [r["case_id"] for r in rows]
        trails: dict[str, list[asyncpg.Record]] = {i: [] for i in ids}
        for e in await conn.fetch(EVENTS_SQL, ids):
            trails[e["case_id"]].append(e)
        answers: dict[str, list[asyncpg.Record]] = {}
        for a in await conn.fetch(ANSWERS_SQL, ids):
            answers.setdefault(a["key"].partition(":")[0], []).append(a)
        notices: dict[str, list[str]] = {}
        for n in await conn.fetch(NOTICES_SQL, ids):
            notices.setdefault(n["case_id"], []).append(n["change"])
        out: list[Timeline | Unreadable] = []
        for r in rows:
            case_id = r["case_id"]
            try:
                out.append(_timeline(r["state"], trails[case_id], answers.get(case_id, []),
                                     notices.get(case_id, []), as_of))
            except Exception as err:  # noqa: BLE001 - one damaged record must not stop the rest
                out.append(Unreadable(f"{case_id}: {describe_error(err)}"))
        yield out


def _timeline(
    state: str, events: list[asyncpg.Record], answers: list[asyncpg.Record], notices: list[str],
    as_of: datetime,
) -> Timeline:
    """One case's rows decoded and rebuilt; raises on anything its rows do not hold as written."""
    trail = []
    for e in events:
        data = from_json(e["data"])
        if not isinstance(data, dict):
            raise ValueError(f"event {e['seq']}: its data is not a JSON object")
        trail.append(RecordedEvent(e["seq"], e["type"], e["actor"], e["at"], data))
    found: dict[int, RoutingResult] = routing_answers(
        [(a["key"], from_json(a["result"])) for a in answers]
    )
    changes = [RoutingChange.model_validate_json(n) for n in notices]
    return timeline_of(CaseState.model_validate_json(state), trail, as_of, found, changes)
