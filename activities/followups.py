"""FollowUps: books repair visits (上门服务) and follow-up calls or visits (回访)."""

from __future__ import annotations

from typing import Protocol

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import Cancellation, CancellationResult, Declined, Visit, VisitResult
from activities.references import reference_for


class VisitUnavailableError(Exception):
    """No technician or slot can be found for the visit."""


class VisitProvider(Protocol):
    async def book(self, visit: Visit) -> VisitResult: ...

    async def cancel(self, cancellation: Cancellation) -> CancellationResult: ...


class VisitLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def book(self, visit: Visit) -> VisitResult:
        v = visit
        reference = reference_for("FU" if v.kind.value == "follow_up" else "RV", v.key)
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO follow_ups (key, reference, case_id, customer_id, kind, scheduled_for,"
                " reason, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled')"
                " ON CONFLICT (key) DO NOTHING",
                v.key, reference, v.case_id, v.customer_id, v.kind.value, v.scheduled_for, v.reason,
            )
            scheduled = await conn.fetchval(
                "SELECT scheduled_for FROM follow_ups WHERE key = $1", v.key
            )
        return VisitResult(key=v.key, reference=reference, scheduled_for=scheduled)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE follow_ups SET status = 'cancelled', cancelled_at = now(),"
                " cancel_reason = $1 WHERE reference = $2 AND status <> 'cancelled'",
                cancellation.reason, cancellation.reference,
            )
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)


class FollowUps:
    def __init__(self, provider: VisitProvider) -> None:
        self._provider = provider

    @activity.defn(name="schedule_visit")
    async def schedule(self, visit: Visit) -> VisitResult:
        try:
            return await self._provider.book(visit)
        except VisitUnavailableError as err:
            raise ApplicationError(str(err), type=Declined.VISIT.value, non_retryable=True) from err

    @activity.defn(name="cancel_visit")
    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        return await self._provider.cancel(cancellation)
