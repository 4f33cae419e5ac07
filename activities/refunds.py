"""Refunds: moves money back to the customer (refunds and compensation credits), exactly once.

The idempotency key comes from the workflow (case, proposal number, step), so a retry, or a
worker killed between the provider call and the activity's completion, finds the movement made
the first time instead of paying again. A provider's refusal is a non-retryable
`RefundDeclined`, which the workflow's saga handles.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    MOVEMENT_PREFIX,
    Declined,
    MoneyMovement,
    MoneyMovementResult,
    Reversal,
    ReversalResult,
)
from activities.references import reference_for

log = structlog.get_logger("aftersales.refunds")


class RefundDeclinedError(Exception):
    """The payment provider refused the movement for good."""


class RefundProvider(Protocol):
    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult: ...

    async def reverse(self, reversal: Reversal) -> ReversalResult: ...


class LedgerRefunds:
    """Records movements in the `refunds` ledger; the unique key is the exactly-once guarantee."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        m = movement
        prefix = MOVEMENT_PREFIX[m.kind]
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO refunds (key, reference, case_id, order_id, customer_id, kind,"
                " amount, currency, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'executed')"
                " ON CONFLICT (key) DO NOTHING",
                m.key, reference_for(prefix, m.key), m.case_id, m.order_id, m.customer_id,
                m.kind.value, m.amount, m.currency,
            )
            row = await conn.fetchrow("SELECT reference, status FROM refunds WHERE key = $1", m.key)
        assert row is not None
        return MoneyMovementResult(key=m.key, reference=row["reference"], status=row["status"])

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE refunds SET status = 'reversed', reversal_key = $1, reversed_at = now(),"
                " reversal_reason = $2 WHERE reference = $3 AND reversal_key IS NULL",
                reversal.key, reversal.reason, reversal.reference,
            )
            status = await conn.fetchval(
                "SELECT status FROM refunds WHERE reference = $1", reversal.reference
            )
        return ReversalResult(
            key=reversal.key, reference=reversal.reference, reversed=status == "reversed"
        )


class Refunds:
    def __init__(self, provider: RefundProvider) -> None:
        self._provider = provider

    @activity.defn(name="execute_refund")
    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        try:
            result = await self._provider.execute(movement)
        except RefundDeclinedError as err:
            log.warning("refund declined", key=movement.key, reason=str(err))
            raise ApplicationError(str(err), type=Declined.REFUND.value, non_retryable=True) from err
        log.info(
            "money moved",
            key=movement.key,
            kind=movement.kind.value,
            amount=str(movement.amount),
            currency=movement.currency,
            reference=result.reference,
        )
        return result

    @activity.defn(name="reverse_refund")
    async def reverse(self, reversal: Reversal) -> ReversalResult:
        result = await self._provider.reverse(reversal)
        log.info("money movement reversed", key=reversal.key, reference=reversal.reference)
        return result
