"""The merchant ledger and settlement holds, written with the record that holds their events.

The platform's payout first and the recovery it opens come from a `resolution_executed` event
whose step is `platform_refund`; the settlement from a `recovery_settled` event (STANDARDS S16.4).
A hold starts with `intervention_asked` and ends with `intervention_closed`, which the case also
records when it ends with the intervention open. Each row is keyed by the event's (case, seq),
so a retried record writes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
from pydantic import BaseModel

from cases.ids import split_case_key
from cases.models import CaseEvent

# The case closes an open intervention when it ends itself (`CaseCore.end_intervention`).
RELEASES = frozenset({"intervention_closed"})
_LEDGER = (
    "INSERT INTO merchant_ledger (key, case_id, merchant_id, kind, amount, currency, at)"
    " VALUES ($1, $2, case_merchant($2), $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING"
)
_HOLD = (
    "INSERT INTO settlement_holds (case_id, merchant_id, order_id, held_at)"
    " VALUES ($1, case_merchant($1), $2, $3) ON CONFLICT (case_id) DO NOTHING"
)
_RELEASE = "UPDATE settlement_holds SET released_at = $2 WHERE case_id = $1 AND released_at IS NULL"


def _platform_paid(data: dict[str, Any]) -> bool:
    steps = data.get("steps")
    return isinstance(steps, list) and any(
        isinstance(s, dict) and s.get("step") == "platform_refund" and not s.get("compensated") for s in steps
    )


def _amount(data: dict[str, Any]) -> Decimal | None:
    # The record must never fail on what an event holds: an amount it cannot read is no entry.
    try:
        amount = Decimal(str(data.get("amount")))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def ledger_rows(case_id: str, currency: str, events: list[CaseEvent]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for e in events:
        amount = _amount(e.data)
        if amount is None:
            continue
        if e.type == "resolution_executed" and _platform_paid(e.data):
            for kind in ("platform_payout", "recovery"):
                rows.append((f"{case_id}:{e.seq}:{kind}", case_id, kind, amount, currency, e.at))
        elif e.type == "recovery_settled":
            rows.append((f"{case_id}:{e.seq}:recovery_settled", case_id, "recovery_settled", amount, currency, e.at))
    return rows


def holds(events: list[CaseEvent]) -> tuple[datetime | None, datetime | None]:
    """When the events hold the order's settlement, and when they release it."""
    held = next((e.at for e in events if e.type == "intervention_asked"), None)
    released = next((e.at for e in events if e.type in RELEASES), None)
    return held, released


def touches(events: list[CaseEvent]) -> bool:
    return bool(ledger_rows("", "", events)) or holds(events) != (None, None)


async def write(conn: asyncpg.Connection, case_id: str, order_id: str, currency: str, events: list[CaseEvent]) -> None:
    rows = ledger_rows(case_id, currency, events)
    if rows:
        await conn.executemany(_LEDGER, rows)
    held, released = holds(events)
    if held is not None:
        await conn.execute(_HOLD, case_id, order_id, held)
    if released is not None:
        await conn.execute(_RELEASE, case_id, released)


class Balance(BaseModel):
    currency: str
    platform_payouts: Decimal
    recoveries: Decimal
    settled: Decimal
    owed: Decimal


class Entry(BaseModel):
    case_id: str
    kind: str
    amount: Decimal
    currency: str
    at: datetime


class Statement(BaseModel):
    """A merchant's account with the platform: what the platform paid for it, what it settled,
    what it owes, the orders whose settlement is held, and the latest entries."""

    merchant_id: str
    balances: list[Balance]
    held_orders: list[str]
    entries: list[Entry]


async def statement(pool: asyncpg.Pool, merchant_id: str, limit: int = 100) -> Statement:
    balances = await pool.fetch(
        "SELECT currency, platform_payouts, recoveries, settled, owed FROM merchant_balances WHERE merchant_id = $1"
        " ORDER BY currency", merchant_id,
    )
    held = await pool.fetch(
        "SELECT order_id FROM settlement_holds WHERE merchant_id = $1 AND released_at IS NULL ORDER BY held_at",
        merchant_id,
    )
    entries = await pool.fetch(
        "SELECT case_id, kind, amount, currency, at FROM merchant_ledger WHERE merchant_id = $1"
        " ORDER BY at DESC, key DESC LIMIT $2", merchant_id, limit,
    )
    return Statement(
        merchant_id=merchant_id,
        balances=[Balance(**dict(r)) for r in balances],
        held_orders=[r["order_id"] for r in held],
        entries=[Entry(**dict(r) | {"case_id": split_case_key(r["case_id"])[1]}) for r in entries],
    )
