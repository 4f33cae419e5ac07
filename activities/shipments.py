"""Shipments: sends a replacement product for an exchange, and cancels it when the saga unwinds."""

from __future__ import annotations

from typing import Protocol

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import Cancellation, CancellationResult, Declined, Shipment, ShipmentResult
from activities.references import reference_for


class ShipmentFailedError(Exception):
    """The warehouse cannot ship the replacement (out of stock, address refused)."""


class ShipmentProvider(Protocol):
    async def ship(self, shipment: Shipment) -> ShipmentResult: ...

    async def cancel(self, cancellation: Cancellation) -> CancellationResult: ...


class WarehouseLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ship(self, shipment: Shipment) -> ShipmentResult:
        s = shipment
        reference = reference_for("SH", s.key)
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO shipments (key, reference, case_id, order_id, customer_id, status)"
                " VALUES ($1, $2, $3, $4, $5, 'created') ON CONFLICT (key) DO NOTHING",
                s.key, reference, s.case_id, s.order_id, s.customer_id,
            )
        return ShipmentResult(key=s.key, reference=reference)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE shipments SET status = 'cancelled', cancelled_at = now(), cancel_reason = $1"
                " WHERE reference = $2 AND status <> 'cancelled'",
                cancellation.reason, cancellation.reference,
            )
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)


class Shipments:
    def __init__(self, provider: ShipmentProvider) -> None:
        self._provider = provider

    @activity.defn(name="ship_replacement")
    async def ship(self, shipment: Shipment) -> ShipmentResult:
        try:
            return await self._provider.ship(shipment)
        except ShipmentFailedError as err:
            raise ApplicationError(str(err), type=Declined.SHIPMENT.value, non_retryable=True) from err

    @activity.defn(name="cancel_replacement")
    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        return await self._provider.cancel(cancellation)
