"""CaseStore: records the case projection, its clocks, survey and audit events (PostgreSQL here),
and queues the notifications that belong to those events in the outbox, in the same transaction.

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
from activities.outbox_rows import insert_outbox
from cases.models import CaseEvent, CaseState, Clock

_INSERT_EVENTS = """
INSERT INTO case_events (case_id, seq, type, actor, at, data)
SELECT $1, e.seq, e.type, e.actor, e.at, e.data::jsonb
FROM unnest($2::integer[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
     AS e(seq, type, actor, at, data)
ON CONFLICT (case_id, seq) DO NOTHING
RETURNING seq
"""

_UPSERT_CASE = """
INSERT INTO cases (
    case_id, workflow_id, order_id, customer_id, customer_tier, channel, category, tier, status,
    escalation_level, handler, team, order_amount, currency, opened_at, first_response_at,
    resolved_at, closed_at, resolution_type, resolution_amount, review_approved, rating,
    quality_review, follow_up_reason, follow_up_outcome, reopen_count, escalations, sla_state,
    last_seq, state, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30::jsonb, now())
ON CONFLICT (case_id) DO UPDATE SET
    category = EXCLUDED.category, tier = EXCLUDED.tier, status = EXCLUDED.status,
    escalation_level = EXCLUDED.escalation_level, handler = EXCLUDED.handler,
    team = EXCLUDED.team, first_response_at = EXCLUDED.first_response_at,
    resolved_at = EXCLUDED.resolved_at, closed_at = EXCLUDED.closed_at,
    resolution_type = EXCLUDED.resolution_type, resolution_amount = EXCLUDED.resolution_amount,
    review_approved = EXCLUDED.review_approved, rating = EXCLUDED.rating,
    quality_review = EXCLUDED.quality_review, follow_up_reason = EXCLUDED.follow_up_reason,
    follow_up_outcome = EXCLUDED.follow_up_outcome, reopen_count = EXCLUDED.reopen_count,
    escalations = EXCLUDED.escalations, sla_state = EXCLUDED.sla_state,
    last_seq = EXCLUDED.last_seq, state = EXCLUDED.state, updated_at = now()
WHERE cases.last_seq < EXCLUDED.last_seq
RETURNING case_id
"""

_UPSERT_CLOCK = """
INSERT INTO sla_clocks (case_id, round, clock, target_seconds, business, target_label,
    started_at, due_at, state, warned_at, breached_at, met_at, stopped_at, elapsed_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (case_id, round, clock) DO UPDATE SET
    target_seconds = EXCLUDED.target_seconds, business = EXCLUDED.business,
    target_label = EXCLUDED.target_label, due_at = EXCLUDED.due_at, state = EXCLUDED.state,
    warned_at = EXCLUDED.warned_at, breached_at = EXCLUDED.breached_at,
    met_at = EXCLUDED.met_at, stopped_at = EXCLUDED.stopped_at,
    elapsed_seconds = EXCLUDED.elapsed_seconds
"""

_UPSERT_SURVEY = """
INSERT INTO surveys (case_id, round, sent_at, score, comment, rated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (case_id, round) DO UPDATE SET
    score = COALESCE(EXCLUDED.score, surveys.score),
    comment = COALESCE(EXCLUDED.comment, surveys.comment),
    rated_at = COALESCE(EXCLUDED.rated_at, surveys.rated_at)
"""


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
        events = request.events
        async with self._pool.acquire() as conn, conn.transaction():
            written = await conn.fetch(
                _INSERT_EVENTS,
                case.case_id,
                [e.seq for e in events],
                [e.type for e in events],
                [e.actor for e in events],
                [e.at for e in events],
                [json.dumps(e.data, default=str) for e in events],
            )
            projected = await conn.fetchval(_UPSERT_CASE, *_case_row(case))
            if projected is not None:
                await conn.executemany(_UPSERT_CLOCK, _clock_rows(case))
                if request.retired_clocks:
                    await conn.executemany(
                        _UPSERT_CLOCK,
                        [_clock_row(case.case_id, r.round, r.clock) for r in request.retired_clocks],
                    )
                survey = _survey_row(case, events)
                if survey is not None:
                    await conn.execute(_UPSERT_SURVEY, *survey)
            await insert_outbox(conn, request.notifications)
        return RecordResult(events_written=len(written), projection_written=projected is not None)


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
        )
        return result


def _case_row(case: CaseState) -> tuple[object, ...]:
    intake = case.intake
    return (
        case.case_id,
        case.workflow_id,
        intake.order_id,
        intake.customer.id,
        intake.customer.tier.value,
        intake.channel.value,
        case.category.value,
        case.tier.value,
        case.status.value,
        case.escalation_level,
        case.handler,
        case.team,
        intake.order_amount,
        intake.currency,
        case.opened_at,
        case.first_response_at,
        case.resolved_at,
        case.closed_at,
        case.resolution.type.value if case.resolution else None,
        case.resolution.amount if case.resolution else None,
        case.review.approved if case.review else None,
        case.rating,
        case.quality_review,
        case.follow_up.reason if case.follow_up else None,
        case.follow_up.outcome.value if case.follow_up and case.follow_up.outcome else None,
        case.reopen_count,
        case.escalations,
        case.sla_state,
        case.last_seq,
        case.model_dump_json(),
    )


def _clock_rows(case: CaseState) -> list[tuple[object, ...]]:
    return [_clock_row(case.case_id, case.reopen_count, c) for c in case.clocks.values()]


def _clock_row(case_id: str, round_: int, clock: Clock) -> tuple[object, ...]:
    return (
        case_id,
        round_,
        clock.name.value,
        clock.target_seconds,
        clock.business,
        clock.target_label,
        clock.started_at,
        clock.due_at or clock.breached_at,
        clock.state.value,
        clock.warned_at,
        clock.breached_at,
        clock.met_at,
        clock.stopped_at,
        clock.elapsed_seconds,
    )


def _survey_row(case: CaseState, events: list[CaseEvent]) -> tuple[object, ...] | None:
    sent = next((e for e in events if e.type == "notification_queued" and e.data.get("kind") == "survey"), None)
    rated = next((e for e in events if e.type == "rated"), None)
    if sent is None and rated is None:
        return None
    return (
        case.case_id,
        case.reopen_count,
        sent.at if sent else rated.at,  # type: ignore[union-attr]
        rated.data["score"] if rated else None,
        rated.data.get("comment") if rated else None,
        rated.at if rated else None,
    )
