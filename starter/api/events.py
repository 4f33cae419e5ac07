"""A case's audit events, read from the record in PostgreSQL (the timeline and the progress view)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from cases.models import CaseEvent

_EVENTS = """
SELECT seq, type, actor, at, data FROM case_events
WHERE case_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
"""


async def case_events(pool: asyncpg.Pool, case_id: str, after: int = 0, limit: int = 10_000) -> list[CaseEvent]:
    rows = await pool.fetch(_EVENTS, case_id, after, limit)
    return [
        CaseEvent(seq=r["seq"], type=r["type"], actor=r["actor"], at=r["at"], data=_object(r["data"]))
        for r in rows
    ]


def _object(value: Any) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else {"value": loaded}
