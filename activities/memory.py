"""In-memory providers for every activity: the same idempotency by key, and nothing to start.

For workflow tests on the time-skipping server, which then need no PostgreSQL: each provider
keeps what it was asked to do in plain dictionaries, keyed exactly as the PostgreSQL ledgers
are, so a retried call finds its earlier effect instead of repeating it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from activities.contracts import (
    MOVEMENT_PREFIX,
    Cancellation,
    CancellationResult,
    MoneyMovement,
    MoneyMovementResult,
    RecordCase,
    RecordResult,
    Reversal,
    ReversalResult,
    Shipment,
    ShipmentResult,
    Visit,
    VisitResult,
)
from activities.notifications import NotificationProvider
from activities.references import reference_for
from activities.store import Projection
from cases.core.effects import Notification
from cases.models import CaseEvent, CaseState


@dataclass
class MemoryProjection:
    events: dict[str, dict[int, CaseEvent]] = field(default_factory=dict)
    cases: dict[str, CaseState] = field(default_factory=dict)
    # The stored state as the PostgreSQL projection keeps it (activities/sql/010_state_delta.sql):
    # each record's moved fields merged onto the state they were computed on, and its digest.
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    state_seqs: dict[str, int] = field(default_factory=dict)

    async def write(self, request: RecordCase) -> RecordResult:
        case_id = request.case_id
        trail = self.events.setdefault(case_id, {})
        new = [e for e in request.events if e.seq not in trail]
        trail.update((e.seq, e) for e in new)
        projected = self.state_seqs.get(case_id, -1) < request.last_seq
        held = self.digests.get(case_id)
        if (
            self.state_seqs.get(case_id, -1) <= request.last_seq
            and (request.base == "" or held == request.base)
            and held != request.digest
        ):
            merged = {} if request.base == "" else self.states[case_id]
            merged.update(request.state)
            self.states[case_id], self.digests[case_id] = merged, request.digest
            self.cases[case_id] = CaseState.model_validate(merged)
        self.state_seqs[case_id] = max(self.state_seqs.get(case_id, -1), request.last_seq)
        return RecordResult(
            events_written=len(new),
            projection_written=projected,
            state_current=self.digests.get(case_id) == request.digest,
        )

    def trail(self, case_id: str) -> list[CaseEvent]:
        return [e for _, e in sorted(self.events.get(case_id, {}).items())]


@dataclass
class MemoryOutbox:
    """A projection that hands the notifications queued with each write straight to a provider:
    the in-memory stand-in for the PostgreSQL outbox and its dispatcher."""

    projection: Projection
    notifications: NotificationProvider

    async def write(self, request: RecordCase) -> RecordResult:
        result = await self.projection.write(request)
        for notification in request.notifications:
            await self.notifications.deliver(notification)
        return result


@dataclass
class MemoryNotifications:
    sent: dict[tuple[str, str], Notification] = field(default_factory=dict)

    async def deliver(self, notification: Notification) -> list[str]:
        for channel in notification.channels:
            self.sent.setdefault((notification.key, channel.value), notification)
        return [f"{ch.value}:{notification.recipient}" for ch in notification.channels]


@dataclass
class MemoryRefunds:
    movements: dict[str, MoneyMovementResult] = field(default_factory=dict)
    reversed: set[str] = field(default_factory=set)

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        prefix = MOVEMENT_PREFIX[movement.kind]
        return self.movements.setdefault(
            movement.key,
            MoneyMovementResult(key=movement.key, reference=reference_for(prefix, movement.key), status="executed"),
        )

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        self.reversed.add(reversal.reference)
        return ReversalResult(key=reversal.key, reference=reversal.reference, reversed=True)


@dataclass
class MemoryShipments:
    shipped: dict[str, Shipment] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    async def ship(self, shipment: Shipment) -> ShipmentResult:
        self.shipped.setdefault(shipment.key, shipment)
        return ShipmentResult(key=shipment.key, reference=reference_for("SH", shipment.key))

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        self.cancelled.add(cancellation.reference)
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)


@dataclass
class MemoryVisits:
    booked: dict[str, Visit] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    async def book(self, visit: Visit) -> VisitResult:
        first = self.booked.setdefault(visit.key, visit)
        reference = reference_for("FU" if visit.kind.value == "follow_up" else "RV", visit.key)
        return VisitResult(key=visit.key, reference=reference, scheduled_for=first.scheduled_for)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        self.cancelled.add(cancellation.reference)
        return CancellationResult(key=cancellation.key, reference=cancellation.reference, cancelled=True)
