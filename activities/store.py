"""CaseStore: records the case projection, its clocks, survey and audit events (PostgreSQL here),
and queues the notifications and webhook deliveries that belong to those events, in the same
transaction.

The workflow is the source of truth; this is its read model. Audit events are inserted with
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

from activities.contracts import RecordCase, RecordResult
from activities.outbox_rows import outbox_rows
from cases.models import CaseEvent, CaseState, Clock
from cases.views.webhook_events import public_data

# One statement, so one round trip and one transaction: sql/003_record_case.sql, last restated by
# sql/008_webhooks.sql.
_RECORD = "SELECT events_written, projected FROM record_case($1::jsonb, $2::jsonb)"


log = structlog.get_logger("aftersales.store")


class Projection(Protocol):
    """Where a case's audit events and read model go. Writes must be idempotent per (case, seq)."""

    async def write(self, request: RecordCase) -> RecordResult: ...


class PostgresProjection:
    """The read model in PostgreSQL: events, the case row, its clocks and its survey."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, request: RecordCase) -> RecordResult:
        case = request.case
        doc = {
            "case": _case_doc(case),
            "events": [
                {"seq": e.seq, "type": e.type, "actor": e.actor, "at": e.at, "data": e.data,
                 "public": public_data(e)}
                for e in request.events
            ],
            "clocks": [_clock_doc(case.reopen_count, c) for c in case.clocks.values()]
            + [_clock_doc(r.round, r.clock) for r in request.retired_clocks],
            "survey": _survey_doc(case, request.events),
            "outbox": outbox_rows(request.notifications),
        }
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_RECORD, json.dumps(doc, default=str), case.model_dump_json())
        assert row is not None
        return RecordResult(events_written=row["events_written"], projection_written=row["projected"])


class CaseStore:
    """The `record_case` activity: a thin method over whichever projection it is given."""

    def __init__(self, projection: Projection) -> None:
        self._projection = projection

    @activity.defn(name="record_case")
    async def record(self, request: RecordCase) -> RecordResult:
        result = await self._projection.write(request)
        case = request.case
        log.info(
            "case recorded",
            status=case.status.value,
            last_seq=case.last_seq,
            events_written=result.events_written,
            events_sent=len(request.events),
            notifications_queued=len(request.notifications),
        )
        return result


def _case_doc(case: CaseState) -> dict[str, object]:
    intake = case.intake
    return {
        "case_id": case.case_id,
        "workflow_id": case.workflow_id,
        "order_id": intake.order_id,
        "customer_id": intake.customer.id,
        "customer_tier": intake.customer.tier.value,
        "channel": intake.channel.value,
        "category": case.category.value,
        "tier": case.tier.value,
        "status": case.status.value,
        "escalation_level": case.escalation_level,
        "handler": case.handler,
        "team": case.team,
        "order_amount": intake.order_amount,
        "currency": intake.currency,
        "opened_at": case.opened_at,
        "first_response_at": case.first_response_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
        "resolution_type": case.resolution.type.value if case.resolution else None,
        "resolution_amount": case.resolution.amount if case.resolution else None,
        "review_approved": case.review.approved if case.review else None,
        "rating": case.rating,
        "quality_review": case.quality_review,
        "follow_up_reason": case.follow_up.reason if case.follow_up else None,
        "follow_up_outcome": case.follow_up.outcome.value if case.follow_up and case.follow_up.outcome else None,
        "reopen_count": case.reopen_count,
        "escalations": case.escalations,
        "sla_state": case.sla_state,
        "last_seq": case.last_seq,
    }


def _clock_doc(round_: int, clock: Clock) -> dict[str, object]:
    return {
        "round": round_,
        "clock": clock.name.value,
        "turn": clock.turn,
        "target_seconds": clock.target_seconds,
        "business": clock.business,
        "target_label": clock.target_label,
        "started_at": clock.started_at,
        "due_at": clock.due_at or clock.breached_at,
        "state": clock.state.value,
        "warned_at": clock.warned_at,
        "breached_at": clock.breached_at,
        "met_at": clock.met_at,
        "stopped_at": clock.stopped_at,
        "elapsed_seconds": clock.elapsed_seconds,
    }


def _survey_doc(case: CaseState, events: list[CaseEvent]) -> dict[str, object] | None:
    sent = next((e for e in events if e.type == "notification_queued" and e.data.get("kind") == "survey"), None)
    rated = next((e for e in events if e.type == "rated"), None)
    if sent is None and rated is None:
        return None
    return {
        "round": case.reopen_count,
        "sent_at": sent.at if sent else rated.at,  # type: ignore[union-attr]
        "score": rated.data["score"] if rated else None,
        "comment": rated.data.get("comment") if rated else None,
        "rated_at": rated.at if rated else None,
    }
