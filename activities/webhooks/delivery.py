"""`deliver_webhook` and `expire_webhook`: one delivery row sent to its subscriber (STANDARDS S13.4).

The activities are thin methods over a `WebhookProvider`; `PostgresWebhooks` reads the row and its
subscription from PostgreSQL and posts through an injected httpx client. Every attempt is signed
anew under the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp` and `webhook-signature`
over `id.timestamp.body`), with the same id and the same body bytes each time, so a receiver can
verify each attempt and drop a repeat by its id. A 2xx answer marks the row delivered; any other
answer, a timeout or a broken connection records the attempt and raises, and Temporal's retry
policy decides when to try again. Delivery is at least once: an answer lost after the receiver
took the request, or a mark that fails after a 2xx, means the same event is sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
import httpx
import structlog
from standardwebhooks import Webhook
from temporalio import activity

from activities.webhooks.contracts import WebhookOutcome, WebhookTask

# Under the activity's start-to-close timeout, so a hung receiver surfaces as this attempt's error.
SEND_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
USER_AGENT = "aftersales-webhooks/1"
_ERROR_CHARS = 200

_LOAD = """
SELECT d.webhook_id, d.payload::text AS body, d.status, d.attempts, d.last_status_code, d.delivered_at,
       s.url, s.secret, s.active
FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
WHERE d.id = $1
"""
# The attempt's row and the delivery's summary in one statement; a write repeated for the same
# Temporal attempt keeps the first row and the same counters.
_ATTEMPT = """
WITH logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error) VALUES ($1, $2, $3, $4)
    ON CONFLICT (delivery_id, attempt) DO NOTHING
)
UPDATE webhook_deliveries
SET attempts = GREATEST(attempts, $2), last_attempt_at = now(), last_status_code = $3, last_error = $4,
    status = CASE WHEN $5 THEN 'delivered' ELSE status END,
    delivered_at = CASE WHEN $5 THEN now() ELSE delivered_at END
WHERE id = $1 AND status = 'pending'
RETURNING status, attempts, delivered_at
"""
_FINISH = """
UPDATE webhook_deliveries SET status = $2 WHERE id = $1 AND status = 'pending'
RETURNING status, attempts, delivered_at
"""
_STATUS = "SELECT status, attempts, last_status_code, delivered_at FROM webhook_deliveries WHERE id = $1"

log = structlog.get_logger("aftersales.webhooks")


class WebhookRejected(Exception):
    """The subscriber did not accept this attempt. Not an `ApplicationError`, so it is retried."""


class WebhookProvider(Protocol):
    async def deliver(self, task: WebhookTask, attempt: int) -> WebhookOutcome: ...

    async def expire(self, task: WebhookTask) -> WebhookOutcome: ...


class PostgresWebhooks:
    """Delivery rows in PostgreSQL, sent over HTTP."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        http: httpx.AsyncClient,
        *,
        timeout: httpx.Timeout = SEND_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._http = http
        self._timeout = timeout
        self._clock = clock

    async def deliver(self, task: WebhookTask, attempt: int) -> WebhookOutcome:
        row = await self._pool.fetchrow(_LOAD, task.delivery_id)
        if row is None:
            return WebhookOutcome(delivery_id=task.delivery_id, status="missing", attempts=0)
        if row["status"] != "pending":
            return _outcome(task, row)  # a repeated start, or a removal that cancelled it
        if not row["active"]:
            return await self._finish(task, "cancelled")
        sent_at = datetime.fromtimestamp(int(self._clock()), UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": row["webhook_id"],
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(row["secret"]).sign(row["webhook_id"], sent_at, row["body"]),
        }
        try:
            answer = await self._http.post(
                row["url"], content=row["body"].encode(), headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as err:
            error = _describe(err)
            await self._record(task, attempt, None, error, delivered=False)
            log.warning("webhook attempt failed", delivery_id=task.delivery_id, attempt=attempt, error=error)
            raise WebhookRejected(f"attempt {attempt}: {error}") from None
        code = answer.status_code
        if not 200 <= code < 300:
            await self._record(task, attempt, code, f"HTTP {code}", delivered=False)
            log.warning("webhook attempt refused", delivery_id=task.delivery_id, attempt=attempt, status_code=code)
            raise WebhookRejected(f"attempt {attempt}: the subscriber answered HTTP {code}")
        marked = await self._record(task, attempt, code, None, delivered=True)
        log.info("webhook delivered", delivery_id=task.delivery_id, attempt=attempt, status_code=code)
        return marked or WebhookOutcome(delivery_id=task.delivery_id, status="delivered", attempts=attempt,
                                        status_code=code)

    async def expire(self, task: WebhookTask) -> WebhookOutcome:
        return await self._finish(task, "expired")

    async def _record(
        self, task: WebhookTask, attempt: int, code: int | None, error: str | None, *, delivered: bool
    ) -> WebhookOutcome | None:
        row = await self._pool.fetchrow(_ATTEMPT, task.delivery_id, attempt, code, error, delivered)
        if row is None:
            return None
        return WebhookOutcome(delivery_id=task.delivery_id, status=row["status"], attempts=row["attempts"],
                              status_code=code, delivered_at=row["delivered_at"])

    async def _finish(self, task: WebhookTask, status: str) -> WebhookOutcome:
        row = await self._pool.fetchrow(_FINISH, task.delivery_id, status)
        if row is None:  # already final: report what it is
            row = await self._pool.fetchrow(_STATUS, task.delivery_id)
            if row is None:
                return WebhookOutcome(delivery_id=task.delivery_id, status="missing", attempts=0)
            return _outcome(task, row)
        return WebhookOutcome(delivery_id=task.delivery_id, status=row["status"], attempts=row["attempts"],
                              delivered_at=row["delivered_at"])


class WebhookDeliveries:
    """The webhook activities: thin methods over whichever provider they are given."""

    def __init__(self, provider: WebhookProvider) -> None:
        self._provider = provider

    @activity.defn(name="deliver_webhook")
    async def deliver(self, task: WebhookTask) -> WebhookOutcome:
        return await self._provider.deliver(task, activity.info().attempt)

    @activity.defn(name="expire_webhook")
    async def expire(self, task: WebhookTask) -> WebhookOutcome:
        outcome = await self._provider.expire(task)
        log.warning("webhook expired", delivery_id=task.delivery_id, status=outcome.status)
        return outcome


def _outcome(task: WebhookTask, row: asyncpg.Record) -> WebhookOutcome:
    return WebhookOutcome(delivery_id=task.delivery_id, status=row["status"], attempts=row["attempts"],
                          status_code=row["last_status_code"], delivered_at=row["delivered_at"])


def _describe(err: httpx.HTTPError) -> str:
    # The class and the first line only. httpx's transport messages name at most the host and
    # port, never the URL's path or query (where a receiver may keep a token) nor the body.
    message = str(err).splitlines()[0] if str(err) else ""
    text = f"{type(err).__name__}: {message}" if message else type(err).__name__
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"
