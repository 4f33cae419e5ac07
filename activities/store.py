"""CaseStore: records the case projection, its clocks, survey and audit events (PostgreSQL here),
and queues the notifications and webhook deliveries that belong to those events, in the same
transaction.

The workflow is the source of truth; this is its read model. The record carries the rows ready
made and, of the state, only the top-level fields that moved (activities/record_input.py), which
the function merges into the stored state when it is the state they were computed on. Audit events are inserted with
ON CONFLICT DO NOTHING on (case_id, seq), and the projection only moves forward (a write with a
lower `last_seq` than the stored one is ignored), so retries and out-of-order deliveries are
harmless.
"""

from __future__ import annotations

import json
from typing import Protocol

import asyncpg
import structlog
from temporalio import activity

from activities import ledger
from activities.contracts import RecordCase, RecordResult
from activities.outbox_rows import outbox_rows
from cases.views.webhook_events import public_data

# One statement, so one round trip and one transaction: sql/003_record_case.sql, restated by
# sql/008_webhooks.sql, and for a record that carries what moved, sql/010_state_delta.sql.
_RECORD = "SELECT events_written, projected, state_current FROM record_case_delta($1::jsonb, $2::jsonb)"


log = structlog.get_logger("aftersales.store")


class Projection(Protocol):
    """Where a case's audit events and read model go. Writes must be idempotent per (case, seq)."""

    async def write(self, request: RecordCase) -> RecordResult: ...


class PostgresProjection:
    """The read model in PostgreSQL: events, the case row, its clocks and its survey."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, request: RecordCase) -> RecordResult:
        doc = {
            "case": request.row,
            "base": request.base,
            "digest": request.digest,
            "events": [
                {"seq": e.seq, "type": e.type, "actor": e.actor, "at": e.at, "data": e.data,
                 "public": public_data(e)}
                for e in request.events
            ],
            "clocks": request.clocks,
            "survey": request.survey,
            "outbox": outbox_rows(request.notifications),
        }
        async with self._pool.acquire() as conn:
            if not ledger.touches(request.events):
                row = await conn.fetchrow(_RECORD, json.dumps(doc, default=str), json.dumps(request.state))
            else:
                # Money the platform paid, or an order's settlement held: in the record's transaction.
                async with conn.transaction():
                    row = await conn.fetchrow(_RECORD, json.dumps(doc, default=str), json.dumps(request.state))
                    case = request.row
                    await ledger.write(conn, case["case_id"], case["order_id"], case["currency"], request.events)
        assert row is not None
        return RecordResult(
            events_written=row["events_written"],
            projection_written=row["projected"],
            state_current=row["state_current"],
        )


class CaseStore:
    """The `record_case` activity: a thin method over whichever projection it is given."""

    def __init__(self, projection: Projection) -> None:
        self._projection = projection

    @activity.defn(name="record_case")
    async def record(self, request: RecordCase) -> RecordResult:
        result = await self._projection.write(request)
        log.info(
            "case recorded",
            status=request.row["status"],
            last_seq=request.last_seq,
            events_written=result.events_written,
            events_sent=len(request.events),
            notifications_queued=len(request.notifications),
        )
        return result
