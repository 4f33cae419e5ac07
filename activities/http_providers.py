"""HTTP providers: refunds, replacement shipments and notifications through a partner's JSON API.

One small client signs every request: the body is the request model as JSON, sent with the
request's idempotency key in `Idempotency-Key` and `X-Signature: sha256=<hex HMAC-SHA256 of the
exact body bytes>` under a shared secret, so the receiver can check both origin and integrity with
`verify_signature` and deduplicate retries by key. The providers never retry by themselves: a 5xx
answer, a timeout or a broken connection raises, the activity fails, and Temporal retries it with
the activity's named retry policy and the same key. A final refusal (HTTP 402, 409 or 422 with
`{"declined": true, "reason": ...}`) raises the existing non-retryable error of the provider kind,
which the workflow's saga handles. The `httpx.AsyncClient` is built by the caller and injected, so
its pool, timeouts and TLS settings are decided in one place and shared by every provider.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from activities.contracts import (
    Cancellation,
    CancellationResult,
    MoneyMovement,
    MoneyMovementResult,
    Reversal,
    ReversalResult,
    Shipment,
    ShipmentResult,
)
from activities.notifications import NotificationProvider
from activities.refunds import RefundDeclinedError, RefundProvider
from activities.shipments import ShipmentFailedError, ShipmentProvider
from cases.core.effects import Notification

PROVIDER_URL_ENV = "AFTERSALES_PROVIDER_URL"
PROVIDER_SECRET_ENV = "AFTERSALES_PROVIDER_SECRET"

SIGNATURE_SCHEME = "sha256="
# The statuses a provider uses for a business refusal; anything else non-2xx is a fault.
DECLINE_STATUSES = frozenset({402, 409, 422})

REFUNDS_PATH = "refunds"
REVERSALS_PATH = "refunds/reversals"
SHIPMENTS_PATH = "shipments"
SHIPMENT_CANCELLATIONS_PATH = "shipments/cancellations"
NOTIFICATIONS_PATH = "notifications"

_log = logging.getLogger("aftersales.http_providers")

ResultT = TypeVar("ResultT", bound=BaseModel)


class ProviderError(Exception):
    """The provider failed in a way a later attempt may not (5xx, bad answer, auth trouble).

    Not an `ApplicationError`, so the activity fails as retryable and Temporal's retry policy,
    not this module, decides how often and how far apart to try again.
    """


class ProviderConfigError(ValueError):
    """The provider settings in the environment are incomplete."""


class ProviderDeclined(Exception):
    """The provider refused the request for good; carries the provider's reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Signature` value for `body`: `sha256=` and the hex HMAC-SHA256 under `secret`."""
    return SIGNATURE_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str) -> bool:
    """True when `header` is the `X-Signature` of exactly these body bytes under `secret`.

    For receivers: verify the raw bytes as read from the socket, before parsing the JSON, since
    re-serialising can change them. The comparison takes constant time, so response timing does
    not reveal how much of a forged signature was right.
    """
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


class SignedJsonClient:
    """POSTs signed JSON to `<base_url>/<path>`; sorts the answer into result, decline or fault."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        secret: bytes,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ProviderConfigError("the provider secret must not be empty")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._secret = secret
        self._clock = clock

    async def post(self, path: str, request: BaseModel, key: str) -> dict[str, Any]:
        """The provider's JSON object for a 2xx answer.

        Raises `ProviderDeclined` for a final refusal and `ProviderError` for anything else.
        """
        body = request.model_dump_json().encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "X-Signature": sign(self._secret, body),
            "X-Timestamp": str(int(self._clock())),
        }
        url = f"{self._base_url}/{path.lstrip('/')}"
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.TransportError as err:
            # Timeouts and connection errors alike: the request may or may not have arrived,
            # and the idempotency key makes the retry safe either way.
            raise ProviderError(f"POST {url}: {err.__class__.__name__}: {err}") from err
        status = response.status_code
        if status in DECLINE_STATUSES:
            answer = _json_object(response)
            if answer is not None and answer.get("declined") is True:
                reason = answer.get("reason") or f"declined (HTTP {status})"
                raise ProviderDeclined(status, str(reason))
        if not 200 <= status < 300:
            raise ProviderError(f"POST {url}: HTTP {status}: {response.text[:200]}")
        answer = _json_object(response)
        if answer is None:
            raise ProviderError(f"POST {url}: HTTP {status} without a JSON object body")
        echoed = answer.get("key")
        if echoed is not None and echoed != key:
            raise ProviderError(f"POST {url}: answer is for key {echoed!r}, not {key!r}")
        return answer


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _parse(model: type[ResultT], answer: Mapping[str, Any], key: str, path: str) -> ResultT:
    try:
        return model.model_validate({**answer, "key": key})
    except ValidationError as err:
        raise ProviderError(f"{path}: unexpected answer: {err.errors()[0]['msg']}") from err


class HttpRefunds:
    """`RefundProvider` over HTTP: POST /refunds and /refunds/reversals."""

    def __init__(self, client: SignedJsonClient) -> None:
        self._client = client

    async def execute(self, movement: MoneyMovement) -> MoneyMovementResult:
        try:
            answer = await self._client.post(REFUNDS_PATH, movement, movement.key)
        except ProviderDeclined as err:
            raise RefundDeclinedError(err.reason) from err
        return _parse(
            MoneyMovementResult, {"status": "executed", **answer}, movement.key, REFUNDS_PATH
        )

    async def reverse(self, reversal: Reversal) -> ReversalResult:
        try:
            answer = await self._client.post(REVERSALS_PATH, reversal, reversal.key)
        except ProviderDeclined as err:
            # A compensation is retried without limit, so a refusal is reported, not raised:
            # the saga records it and a person settles the money by hand.
            _log.warning("refund reversal %s declined: %s", reversal.reference, err.reason)
            return ReversalResult(key=reversal.key, reference=reversal.reference, reversed=False)
        return _parse(
            ReversalResult,
            {"reference": reversal.reference, "reversed": True, **answer},
            reversal.key,
            REVERSALS_PATH,
        )


class HttpShipments:
    """`ShipmentProvider` over HTTP: POST /shipments and /shipments/cancellations."""

    def __init__(self, client: SignedJsonClient) -> None:
        self._client = client

    async def ship(self, shipment: Shipment) -> ShipmentResult:
        try:
            answer = await self._client.post(SHIPMENTS_PATH, shipment, shipment.key)
        except ProviderDeclined as err:
            raise ShipmentFailedError(err.reason) from err
        return _parse(ShipmentResult, answer, shipment.key, SHIPMENTS_PATH)

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        try:
            answer = await self._client.post(
                SHIPMENT_CANCELLATIONS_PATH, cancellation, cancellation.key
            )
        except ProviderDeclined as err:
            # Same reasoning as a declined reversal: retrying forever cannot change the answer.
            _log.warning(
                "shipment cancellation %s declined: %s", cancellation.reference, err.reason
            )
            return CancellationResult(
                key=cancellation.key, reference=cancellation.reference, cancelled=False
            )
        return _parse(
            CancellationResult,
            {"reference": cancellation.reference, "cancelled": True, **answer},
            cancellation.key,
            SHIPMENT_CANCELLATIONS_PATH,
        )


class HttpNotifications:
    """`NotificationProvider` over HTTP: POST /notifications, answered `{"deliveries": [...]}`."""

    def __init__(self, client: SignedJsonClient) -> None:
        self._client = client

    async def deliver(self, notification: Notification) -> list[str]:
        try:
            answer = await self._client.post(NOTIFICATIONS_PATH, notification, notification.key)
        except ProviderDeclined as err:
            # Notifications retry without limit and have no failure branch in the workflow, so
            # a final refusal (say, an opted-out recipient) is an empty delivery list, recorded
            # in the activity result, rather than an endless retry.
            _log.warning("notification %s declined: %s", notification.key, err.reason)
            return []
        deliveries = answer.get("deliveries")
        if not isinstance(deliveries, list) or not all(isinstance(d, str) for d in deliveries):
            raise ProviderError(f"{NOTIFICATIONS_PATH}: answer lacks a list of `deliveries`")
        return deliveries


class HttpProviderKwargs(TypedDict, total=False):
    """The providers this module can fill (a plain dict): money and goods for
    `worker.activities_for`, notifications for the outbox dispatcher."""

    refunds: RefundProvider
    shipments: ShipmentProvider
    notifications: NotificationProvider


def http_providers_from_env(
    env: Mapping[str, str], client: httpx.AsyncClient
) -> HttpProviderKwargs:
    """The providers that route refunds and shipments (for `worker.activities_for`) and
    notifications (for the outbox dispatcher) to the HTTP provider named by `AFTERSALES_PROVIDER_URL`, signing with
    `AFTERSALES_PROVIDER_SECRET` (UTF-8). Without a URL the answer is `{}`, so the PostgreSQL
    ledgers stay the default; a URL without a secret is a configuration error.
    """
    url = (env.get(PROVIDER_URL_ENV) or "").strip()
    if not url:
        return {}
    if not url.startswith(("http://", "https://")):
        raise ProviderConfigError(f"{PROVIDER_URL_ENV} must be an http(s) URL, got {url!r}")
    secret = env.get(PROVIDER_SECRET_ENV) or ""
    if not secret:
        raise ProviderConfigError(f"{PROVIDER_SECRET_ENV} must be set when {PROVIDER_URL_ENV} is")
    signed = SignedJsonClient(client, url, secret.encode("utf-8"))
    return {
        "refunds": HttpRefunds(signed),
        "shipments": HttpShipments(signed),
        "notifications": HttpNotifications(signed),
    }
