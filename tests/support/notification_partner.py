"""A fake messaging partner on a real socket, for the outbox tests: it dedupes by idempotency key,
as real providers do, and records every raw attempt besides.

It verifies each request's signature, then answers as told: healthy (200 with one delivery per
channel), an outage (every request answered 503), a key failing until told otherwise, a key
declined for good (422 `{"declined": true}`), or, once it has taken `hold_after` keys, holding
each further request unanswered after taking it, which is the moment a sender killed mid-call
leaves behind. A key is taken (performed) once: the ledger keeps the first arrival of each, and a
repeat is answered with the same deliveries without being performed again. `stop` and `start`
bring the socket down and back on the same port, for a connection refused.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from activities.http_providers import verify_signature


@dataclass(frozen=True)
class Attempt:
    key: str
    case_id: str
    channels: tuple[str, ...]
    status: int


class NotificationPartner:
    def __init__(self, secret: bytes, port: int) -> None:
        self.secret = secret
        self.port = port
        self.attempts: list[Attempt] = []
        self.ledger: list[tuple[str, str]] = []  # (key, case_id), first arrival order
        self.outage: int | None = None
        self.failing: set[str] = set()
        self.declines: set[str] = set()
        self.hold_after: int | None = None
        self.held: list[str] = []
        self._answers: dict[str, list[str]] = {}
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        partner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = partner.handle(dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender is gone (killed while this request was held)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.release()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._http = None

    def release(self) -> None:
        """Stop holding: answer the held requests (to whoever still listens) and all later ones."""
        with self._lock:
            self.hold_after = None
        self._released.set()

    def snapshot(self) -> tuple[list[Attempt], list[tuple[str, str]], list[str]]:
        with self._lock:
            return list(self.attempts), list(self.ledger), list(self.held)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if not verify_signature(self.secret, body, headers.get("X-Signature", "")):
            return 401, {"error": "bad signature"}
        payload = json.loads(body)
        key = headers.get("Idempotency-Key", "")
        with self._lock:
            first = key not in self._answers
            status, answer = self._answer(key, payload)
            self.attempts.append(Attempt(key, payload["case_id"], tuple(payload["channels"]), status))
            # Keys past the first `hold_after` are taken, then left unanswered.
            hold = (first and status == 200 and self.hold_after is not None
                    and len(self.ledger) > self.hold_after)
            if hold:
                self.held.append(key)
        if hold:
            self._released.wait(timeout=300)
        return status, answer

    def _answer(self, key: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.outage is not None:
            return self.outage, {"error": "unavailable"}
        if key in self.failing:
            return 503, {"error": "try again later"}
        if key in self.declines:
            return 422, {"declined": True, "reason": "recipient opted out"}
        if key not in self._answers:
            self.ledger.append((key, payload["case_id"]))
            self._answers[key] = [f"{ch}:msg-{len(self.ledger)}" for ch in payload["channels"]]
        return 200, {"key": key, "deliveries": self._answers[key]}
