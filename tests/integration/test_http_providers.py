"""HTTP providers against a real local HTTP server: signatures, idempotency keys, retries, declines.

The server listens on a real socket (stdlib `http.server` in a thread, on a port the OS picks),
verifies every request's signature with `verify_signature` before looking at the body, records
what it received, and plays a payment and logistics partner: it answers successes, declines the
refund of 999.99, and can answer 503 once for a chosen idempotency key. The workflow tests run
the real `AfterSalesCase` on the time-skipping server with the HTTP refund provider, so the
decline branch and Temporal's retry are exercised end to end.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.contracts import (
    Cancellation,
    MoneyMovement,
    MoneyMovementKind,
    Reversal,
    Shipment,
)
from activities.http_providers import (
    HttpNotifications,
    HttpRefunds,
    HttpShipments,
    ProviderConfigError,
    ProviderError,
    SignedJsonClient,
    http_providers_from_env,
    sign,
    verify_signature,
)
from activities.refunds import RefundDeclinedError
from activities.shipments import ShipmentFailedError
from cases.core.effects import Audience, Notification, NotificationChannel
from cases.models import CaseState, Status
from cases.policy.snapshot import Policy
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.eventually import eventually
from tests.support.factories import intake

SECRET = b"test-shared-secret-7f3a"
DECLINED_AMOUNT = Decimal("999.99")
DECLINE_REASON = "issuer refused: card account closed"
OUT_OF_STOCK_ORDER = "OOS-1"

T = TypeVar("T")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int = 0

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class ProviderServer:
    """A partner API on a real socket; thread-safe because the server runs in its own threads."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self._unavailable_once: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = server.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    def unavailable_once(self, key: str) -> None:
        with self._lock:
            self._unavailable_once.add(key)

    def requests_to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        verified = verify_signature(self.secret, body, headers.get("X-Signature", ""))
        record = Received(path=path, headers=headers, body=body, verified=verified)
        with self._lock:
            self.received.append(record)
            status, answer = self._answer(path, headers, body, verified)
            record.status = status
        return status, answer

    def _answer(
        self, path: str, headers: dict[str, str], body: bytes, verified: bool
    ) -> tuple[int, dict[str, Any]]:
        if not verified:
            return 401, {"error": "bad signature"}
        key = headers.get("Idempotency-Key", "")
        if key in self._unavailable_once:
            self._unavailable_once.discard(key)
            return 503, {"error": "try again later"}
        payload = json.loads(body)
        reference = f"PSP-{key}"
        if path == "/refunds":
            if Decimal(str(payload["amount"])) == DECLINED_AMOUNT:
                return 422, {"declined": True, "reason": DECLINE_REASON}
            return 200, {"key": key, "reference": reference, "status": "executed"}
        if path == "/refunds/reversals":
            return 200, {"key": key, "reference": payload["reference"], "reversed": True}
        if path == "/shipments":
            if payload["order_id"] == OUT_OF_STOCK_ORDER:
                return 409, {"declined": True, "reason": "out of stock"}
            return 201, {"key": key, "reference": f"SHIP-{key}"}
        if path == "/shipments/cancellations":
            return 200, {"key": key, "cancelled": True}
        if path == "/notifications":
            recipient = payload["recipient"]
            return 200, {"deliveries": [f"{ch}:{recipient}" for ch in payload["channels"]]}
        return 404, {"error": f"no route {path}"}


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    srv = ProviderServer(SECRET)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


def movement(amount: str = "120.00", key: str | None = None) -> MoneyMovement:
    return MoneyMovement(
        key=key or f"c{uuid.uuid4().hex[:8]}:p1:refund",
        case_id="c1",
        order_id="8812",
        customer_id="cust-1",
        kind=MoneyMovementKind.REFUND,
        amount=Decimal(amount),
        currency="CNY",
    )


async def end_case(client: CaseClient, case_id: str) -> None:
    """Terminate a case still running, so its timers never fire into later tests that skip
    time on the shared time-skipping server."""
    handle = client.handle(case_id)
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await handle.terminate(reason="test finished")


# -- signatures -------------------------------------------------------------------------------


def test_verify_signature_accepts_only_the_exact_body_and_secret() -> None:
    body = b'{"key":"c1:p1:refund","amount":"120.00"}'
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(SECRET, body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature(b"another-secret", body, header)
    assert not verify_signature(SECRET, body, header.removeprefix("sha256="))
    assert not verify_signature(SECRET, body, "sha256=" + "0" * 64)
    assert not verify_signature(SECRET, body, "")
    assert not verify_signature(SECRET, body, "sha256=ünïcode")


async def test_server_verifies_signature_and_request_carries_key_and_json(
    server: ProviderServer, http: httpx.AsyncClient
) -> None:
    refunds = HttpRefunds(SignedJsonClient(http, server.url, SECRET))
    request = movement("120.00")
    before = int(time.time())
    result = await refunds.execute(request)

    assert (result.key, result.reference, result.status) == (
        request.key, f"PSP-{request.key}", "executed",
    )
    [got] = server.requests_to("/refunds")
    assert got.verified and got.status == 200
    assert got.headers["Idempotency-Key"] == request.key
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Signature"] == sign(SECRET, got.body)
    assert before - 1 <= int(got.headers["X-Timestamp"]) <= int(time.time()) + 1
    assert got.json == request.model_dump(mode="json")


async def test_wrong_secret_is_rejected_by_the_server_and_raises_retryable(
    server: ProviderServer, http: httpx.AsyncClient
) -> None:
    refunds = HttpRefunds(SignedJsonClient(http, server.url, b"not-the-shared-secret"))
    with pytest.raises(ProviderError, match="HTTP 401"):
        await refunds.execute(movement())
    [got] = server.requests_to("/refunds")
    assert not got.verified and got.status == 401


# -- idempotency keys and retries -------------------------------------------------------------


async def test_every_provider_sends_the_request_key_as_idempotency_key(
    server: ProviderServer, http: httpx.AsyncClient
) -> None:
    signed = SignedJsonClient(http, server.url, SECRET)
    shipped = await HttpShipments(signed).ship(
        Shipment(key="c2:p1:replacement", case_id="c2", order_id="8812", customer_id="cust-1")
    )
    cancelled = await HttpShipments(signed).cancel(
        Cancellation(key="c2:p1:replacement:undo", case_id="c2", reference=shipped.reference,
                     reason="a later step failed")
    )
    reversed_ = await HttpRefunds(signed).reverse(
        Reversal(key="c2:p1:refund:undo", case_id="c2", reference="PSP-x", reason="undo")
    )
    deliveries = await HttpNotifications(signed).deliver(
        Notification(
            key="c2:7:result", case_id="c2", kind="result", audience=Audience.CUSTOMER,
            recipient="cust-1", channels=[NotificationChannel.SMS, NotificationChannel.EMAIL],
            subject="Resolved", body="Your case has been resolved",
        )
    )

    assert shipped.reference == "SHIP-c2:p1:replacement"
    assert cancelled.cancelled and cancelled.reference == shipped.reference
    assert reversed_.reversed and reversed_.reference == "PSP-x"
    assert deliveries == ["sms:cust-1", "email:cust-1"]
    keys = [(r.path, r.headers["Idempotency-Key"], r.verified) for r in server.received]
    assert keys == [
        ("/shipments", "c2:p1:replacement", True),
        ("/shipments/cancellations", "c2:p1:replacement:undo", True),
        ("/refunds/reversals", "c2:p1:refund:undo", True),
        ("/notifications", "c2:7:result", True),
    ]


async def test_503_raises_and_the_retry_sends_the_same_key_and_body(
    server: ProviderServer, http: httpx.AsyncClient
) -> None:
    refunds = HttpRefunds(SignedJsonClient(http, server.url, SECRET))
    request = movement("88.00")
    server.unavailable_once(request.key)

    with pytest.raises(ProviderError, match="HTTP 503"):
        await refunds.execute(request)
    result = await refunds.execute(request)

    first, second = server.requests_to("/refunds")
    assert (first.status, second.status) == (503, 200)
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == request.key
    assert first.body == second.body
    assert result.reference == f"PSP-{request.key}"


async def test_connection_refused_raises_retryable(http: httpx.AsyncClient) -> None:
    # Held, never listening: the connect is refused, and no other process can take the port.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        refunds = HttpRefunds(SignedJsonClient(http, f"http://127.0.0.1:{held.getsockname()[1]}", SECRET))
        with pytest.raises(ProviderError, match="ConnectError"):
            await refunds.execute(movement())


# -- declines ---------------------------------------------------------------------------------


async def test_declines_raise_the_non_retryable_provider_errors(
    server: ProviderServer, http: httpx.AsyncClient
) -> None:
    signed = SignedJsonClient(http, server.url, SECRET)
    with pytest.raises(RefundDeclinedError, match="card account closed"):
        await HttpRefunds(signed).execute(movement("999.99"))
    with pytest.raises(ShipmentFailedError, match="out of stock"):
        await HttpShipments(signed).ship(
            Shipment(key="c3:p1:replacement", case_id="c3", order_id=OUT_OF_STOCK_ORDER,
                     customer_id="cust-1")
        )
    assert [r.status for r in server.received] == [422, 409]


# -- settings ---------------------------------------------------------------------------------


async def test_http_providers_from_env(http: httpx.AsyncClient) -> None:
    assert http_providers_from_env({}, http) == {}
    assert http_providers_from_env({"AFTERSALES_PROVIDER_SECRET": "s"}, http) == {}
    with pytest.raises(ProviderConfigError, match="AFTERSALES_PROVIDER_SECRET"):
        http_providers_from_env({"AFTERSALES_PROVIDER_URL": "https://psp.example"}, http)
    with pytest.raises(ProviderConfigError, match="http"):
        http_providers_from_env(
            {"AFTERSALES_PROVIDER_URL": "psp.example", "AFTERSALES_PROVIDER_SECRET": "s"}, http
        )
    providers = http_providers_from_env(
        {"AFTERSALES_PROVIDER_URL": "https://psp.example/v1/", "AFTERSALES_PROVIDER_SECRET": "s"},
        http,
    )
    assert sorted(providers) == ["notifications", "refunds", "shipments"]
    assert isinstance(providers["refunds"], HttpRefunds)
    assert isinstance(providers["shipments"], HttpShipments)
    assert isinstance(providers["notifications"], HttpNotifications)


# -- the workflow -----------------------------------------------------------------------------


async def test_declined_refund_takes_the_workflow_decline_branch(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    policy: Policy,
    server: ProviderServer,
    http: httpx.AsyncClient,
) -> None:
    case = intake(order_amount="1500.00")
    case_id = case.case_id
    assert case_id is not None
    refunds = HttpRefunds(SignedJsonClient(http, server.url, SECRET))
    async with case_worker(env.client, pool, policy, refunds=refunds) as task_queue:
        client = CaseClient(env.client, task_queue)
        opened = await client.open(case)
        try:
            assert (opened.tier.value, opened.status) == ("general", Status.REGISTERED)
            await client.act(case_id, "acknowledge", {"actor": "agent-7"})
            # 999.99 is above the 500 review threshold, so a supervisor approves it first.
            proposed = await client.act(
                case_id, "propose_resolution", {"type": "refund", "amount": "999.99"}
            )
            assert proposed.status == Status.AWAITING_APPROVAL
            await client.act(case_id, "approve", {"actor": "supervisor-1", "role": "supervisor"})

            state: CaseState = await eventually(
                lambda: client.state(case_id),
                lambda s: s.status == Status.ACKNOWLEDGED and s.escalations == 1,
                "the failed resolution's escalation",
            )
            assert state.status == Status.ACKNOWLEDGED
            assert (state.escalation_level, state.escalations) == (2, 1)
            assert state.proposal is None and state.resolution is None

            rows = await eventually(
                lambda: pool.fetch(
                    "SELECT type, data FROM case_events WHERE case_id = $1"
                    " AND type IN ('resolution_failed', 'escalated') ORDER BY seq",
                    case_id,
                ),
                lambda r: len(r) == 2,
                "the failure and escalation events",
            )
            assert [r["type"] for r in rows] == ["resolution_failed", "escalated"]
            failed = json.loads(rows[0]["data"])
            assert failed["step"] == "refund"
            assert "RefundDeclined" in failed["error"] and DECLINE_REASON in failed["error"]
            assert failed["compensated"] == []
            assert json.loads(rows[1]["data"])["to_level"] == 2

            # Non-retryable: the provider saw the refund once, signed, under the step's key.
            [got] = server.requests_to("/refunds")
            assert got.verified and got.status == 422
            assert got.headers["Idempotency-Key"] == f"{case_id}:p1:refund"
            # The HTTP provider, not the PostgreSQL ledger, handled the money.
            refund_rows = await pool.fetchval(
                "SELECT count(*) FROM refunds WHERE case_id = $1", case_id
            )
            assert refund_rows == 0
        finally:
            await end_case(client, case_id)


async def test_503_is_retried_by_temporal_with_the_same_idempotency_key(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    policy: Policy,
    server: ProviderServer,
    http: httpx.AsyncClient,
) -> None:
    case = intake(order_amount="299.00")
    case_id = case.case_id
    assert case_id is not None
    key = f"{case_id}:p1:refund"
    server.unavailable_once(key)
    refunds = HttpRefunds(SignedJsonClient(http, server.url, SECRET))
    async with case_worker(env.client, pool, policy, refunds=refunds) as task_queue:
        client = CaseClient(env.client, task_queue)
        await client.open(case)
        try:
            await client.act(case_id, "propose_resolution", {"type": "refund", "amount": "120.00"})

            state: CaseState = await eventually(
                lambda: client.state(case_id),
                lambda s: s.status == Status.AWAITING_CONFIRMATION,
                "the resolution",
            )
            assert state.status == Status.AWAITING_CONFIRMATION
            assert state.resolution is not None
            assert [s.reference for s in state.resolution.steps] == [f"PSP-{key}"]
            assert state.escalations == 0

            attempts = server.requests_to("/refunds")
            assert [(r.status, r.headers["Idempotency-Key"], r.verified) for r in attempts] == [
                (503, key, True),
                (200, key, True),
            ]
            assert attempts[0].body == attempts[1].body
            assert attempts[0].json["amount"] == "120.00"
        finally:
            await end_case(client, case_id)
