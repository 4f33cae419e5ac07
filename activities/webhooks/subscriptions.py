"""Webhook subscriptions and their delivery history in PostgreSQL, for `aftersales webhooks`.

A subscription names a URL, the audit event types it wants (cases/views/webhook_events.py, or `*`) and
a signing secret in the Standard Webhooks form, `whsec_` + base64 of 32 random bytes. The secret
is returned once, by `add`; every listing shows only its first characters. Removing a
subscription deactivates it and cancels its pending deliveries; its history stays.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from urllib.parse import urlsplit

import asyncpg
from pydantic import BaseModel, ConfigDict

from cases.ids import is_merchant_id
from cases.views.webhook_events import ALL_EVENTS, EVENT_TYPES, unknown_event_types

MAX_URL_LENGTH = 2000
SECRET_PREFIX = "whsec_"
_SHOWN_SECRET_CHARS = len(SECRET_PREFIX) + 4
MAX_DELIVERIES = 1000


class SubscriptionError(ValueError):
    """A webhook command's input is wrong (a bad URL, an unknown event type, an unknown id)."""


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    url: str
    event_types: list[str]
    # The merchant whose cases it hears; None hears every merchant's (a platform subscription).
    merchant_id: str | None = None
    secret_prefix: str
    active: bool
    created_at: datetime
    removed_at: datetime | None = None


class CreatedSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription: Subscription
    secret: str  # the whole `whsec_…` string, shown this once


class RemovedSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription: Subscription
    deliveries_cancelled: int


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    event: str
    webhook_id: str
    case_id: str
    seq: int
    subscription: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    started_at: datetime | None
    delivered_at: datetime | None


def valid_url(raw: str) -> str:
    if len(raw) > MAX_URL_LENGTH:
        raise SubscriptionError(f"url: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise SubscriptionError("url: not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in raw):
        raise SubscriptionError("url: must be an http:// or https:// URL with a host")
    return raw


def valid_event_types(raw: str) -> list[str]:
    """`a,b,c` as a list without repeats; `*` alone when it is among them."""
    requested = list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if not requested:
        raise SubscriptionError("events: name at least one event type, or *")
    unknown = unknown_event_types(requested)
    if unknown:
        shown = ", ".join(t[:40] for t in unknown[:5])
        raise SubscriptionError(
            f"events: unknown event type(s) {shown}; known: {', '.join(sorted(EVENT_TYPES))}, or *"
        )
    return [ALL_EVENTS] if ALL_EVENTS in requested else requested


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class WebhookSubscriptions:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, url: str, events: str, merchant_id: str | None = None) -> CreatedSubscription:
        """A subscription to `merchant_id`'s cases, or to every merchant's without one."""
        url, types = valid_url(url), valid_event_types(events)
        if merchant_id is not None and not is_merchant_id(merchant_id):
            raise SubscriptionError(f"merchant_id: {merchant_id[:40]!r} is not a merchant id")
        secret = new_secret()
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO webhook_subscriptions (id, url, event_types, secret, merchant_id)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *",
                f"wh_{secrets.token_hex(6)}", url, types, secret, merchant_id,
            )
        except asyncpg.ForeignKeyViolationError:
            raise SubscriptionError(f"merchant_id: {merchant_id!r} is not registered") from None
        assert row is not None
        return CreatedSubscription(subscription=_subscription(row), secret=secret)

    async def subscriptions(self, *, include_removed: bool = False) -> list[Subscription]:
        rows = await self._pool.fetch(
            "SELECT * FROM webhook_subscriptions WHERE $1 OR active ORDER BY created_at, id", include_removed
        )
        return [_subscription(r) for r in rows]

    async def remove(self, subscription_id: str) -> RemovedSubscription:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE webhook_subscriptions SET active = false, removed_at = coalesce(removed_at, now())"
                " WHERE id = $1 RETURNING *",
                subscription_id,
            )
            if row is None:
                raise SubscriptionError(f"subscription {subscription_id[:40]!r}: no such subscription")
            cancelled = await conn.fetchval(
                "WITH c AS (UPDATE webhook_deliveries SET status = 'cancelled'"
                " WHERE subscription_id = $1 AND status = 'pending' RETURNING 1) SELECT count(*) FROM c",
                subscription_id,
            )
        return RemovedSubscription(subscription=_subscription(row), deliveries_cancelled=cancelled)

    async def deliveries(self, *, case_id: str | None = None, limit: int = 50) -> list[Delivery]:
        if not 1 <= limit <= MAX_DELIVERIES:
            raise SubscriptionError(f"limit: must be between 1 and {MAX_DELIVERIES}")
        rows = await self._pool.fetch(
            "SELECT id, event_type, webhook_id, case_id, seq, subscription_id, status, attempts,"
            " last_status_code, last_error, created_at, started_at, delivered_at FROM webhook_deliveries"
            " WHERE $1::text IS NULL OR case_id = $1 ORDER BY id DESC LIMIT $2",
            case_id, limit,
        )
        return [
            Delivery(id=r["id"], event=r["event_type"], webhook_id=r["webhook_id"], case_id=r["case_id"],
                     seq=r["seq"], subscription=r["subscription_id"], status=r["status"], attempts=r["attempts"],
                     last_status_code=r["last_status_code"], last_error=r["last_error"],
                     created_at=r["created_at"], started_at=r["started_at"], delivered_at=r["delivered_at"])
            for r in rows
        ]


def _subscription(row: asyncpg.Record) -> Subscription:
    return Subscription(
        id=row["id"], url=row["url"], event_types=list(row["event_types"]), merchant_id=row["merchant_id"],
        secret_prefix=row["secret"][:_SHOWN_SECRET_CHARS] + "…", active=row["active"],
        created_at=row["created_at"], removed_at=row["removed_at"],
    )
