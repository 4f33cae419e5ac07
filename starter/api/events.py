"""What the API reads from the record in PostgreSQL: a case's audit events (the timeline and the
progress view) and its state after an action."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from cases.models import CaseEvent, CaseState
from cases.receipt import CaseReceipt

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


_STATE = "SELECT state::text AS state FROM cases WHERE case_id = $1 AND last_seq = $2"


async def recorded_state(pool: asyncpg.Pool, receipt: CaseReceipt) -> CaseState | None:
    """The case's state as the record holds it once the receipt's action is on it, else None
    (the record is already further on: another action on the case was recorded since).

    An action's update answers only after its record committed, so this is the state the action
    left; reading it here answers an API call without one more query to the case.
    """
    text = await pool.fetchval(_STATE, receipt.case_id, receipt.last_seq)
    return None if text is None else CaseState.model_validate_json(text)
