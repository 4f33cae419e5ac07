"""The codec server's HTTP side: the request handler and the threading server class.

`CodecHTTPServer` binds one address and holds the codec and the checked configuration;
`CodecRequestHandler` answers `POST …/encode` and `POST …/decode` (the last path segment picks the
operation), CORS preflights for the configured origins only, and `GET /healthz`. Before any
payload is touched it checks the origin and the token (`Authorization: Bearer <token>`, or the
first path segment for the Web UI) in constant time; it reads a bounded body in the protobuf JSON
form of `Payloads` (an empty `{}` included), and drains refused bodies so keep-alive connections
stay in step. Responses are never cached and bodies are never logged: they hold personal data.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import sys
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from codec_server.config import CodecServerConfig
from workflows.codec import CodecKeyError, EncryptionCodec

# A whole workflow history's payloads fit easily; anything larger is not a UI request.
MAX_BODY_BYTES = 32 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024

ALLOW_METHODS = "POST"
ALLOW_HEADERS = "Content-Type, X-Namespace, Authorization"
OPERATIONS = ("encode", "decode")


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CodecHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        codec: EncryptionCodec,
        config: CodecServerConfig,
        *,
        quiet: bool = False,
    ) -> None:
        self.codec = codec
        self.quiet = quiet
        self.config = config
        self.token = config.token.encode()
        self.origins = frozenset(config.origins)
        super().__init__(address, CodecRequestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class CodecRequestHandler(BaseHTTPRequestHandler):
    server: CodecHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "aftersales-codec"
    sys_version = ""

    # -- routing ------------------------------------------------------------------------------

    def do_OPTIONS(self) -> None:
        origin = self.headers.get("Origin")
        if origin is None or not self._origin_allowed(origin):
            # No CORS headers at all: the browser refuses the real request.
            self._send(HTTPStatus.FORBIDDEN, {"error": "origin not allowed"}, cors=False)
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers(origin)
        self.send_header("Access-Control-Allow-Methods", ALLOW_METHODS)
        self.send_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self._path() in ("/healthz", "/health"):
            self._send(HTTPStatus.OK, {"status": "ok"})
            return
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use POST …/encode or …/decode"},
                   extra={"Allow": "POST, OPTIONS"})

    def do_POST(self) -> None:
        operation = self._path().rstrip("/").rsplit("/", 1)[-1]
        if operation not in OPERATIONS:
            self._drain_body()
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found: POST …/encode or …/decode"})
            return
        origin = self.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin):
            self._drain_body()
            self._send(HTTPStatus.FORBIDDEN, {"error": "origin not allowed"}, cors=False)
            return
        denied = self._check_token()
        if denied is not None:
            self._drain_body()
            status, message = denied
            extra = {"WWW-Authenticate": 'Bearer realm="aftersales-codec"'}
            self._send(status, {"error": message}, extra=extra if status == HTTPStatus.UNAUTHORIZED else None)
            return
        try:
            payloads = self._read_payloads()
            result = asyncio.run(_apply(self.server.codec, operation, payloads))
        except _BadRequest as err:
            self._send(err.status, {"error": err.message})
            return
        body = json_format.MessageToDict(Payloads(payloads=result))
        body.setdefault("payloads", [])
        self._send(HTTPStatus.OK, body)

    # -- checks -------------------------------------------------------------------------------

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _origin_allowed(self, origin: str) -> bool:
        return origin.rstrip("/") in self.server.origins

    def _check_token(self) -> tuple[HTTPStatus, str] | None:
        header = self.headers.get("Authorization")
        if not header:
            # The Web UI cannot add a header of ours to its codec calls, so each member of staff
            # enters the endpoint as `http://host:8081/<token>` in the UI's data encoder
            # settings (kept in their own browser); the token then arrives as the first segment.
            segments = [s for s in self._path().split("/") if s]
            if len(segments) >= 2:
                if hmac.compare_digest(segments[0].encode(), self.server.token):
                    return None
                return HTTPStatus.FORBIDDEN, "invalid token"
            return HTTPStatus.UNAUTHORIZED, "missing bearer token"
        scheme, _, given = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return HTTPStatus.UNAUTHORIZED, "expected Authorization: Bearer <token>"
        if not hmac.compare_digest(given.strip().encode(), self.server.token):
            return HTTPStatus.FORBIDDEN, "invalid token"
        return None

    def _content_length(self) -> int:
        text = self.headers.get("Content-Length")
        if text is None:
            raise _BadRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        try:
            length = int(text)
        except ValueError:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if length < 0:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, "Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"body larger than {MAX_BODY_BYTES} bytes")
        return length

    def _drain_body(self) -> None:
        # A refused request's body must still be read, or it is parsed as the next request on
        # this keep-alive connection; a large one is not worth reading for a refusal.
        try:
            length = self._content_length()
        except _BadRequest:
            length = -1
        if not 0 <= length <= _DRAIN_LIMIT:
            self.close_connection = True
        elif length:
            self.rfile.read(length)

    def _read_payloads(self) -> list[Payload]:
        try:
            length = self._content_length()
        except _BadRequest:
            self.close_connection = True
            raise
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"body is not JSON: {err}") from None
        # Protobuf JSON leaves out empty repeated fields, so `{}` is a valid, empty `Payloads`
        # (what the temporal CLI sends for a query without arguments); ParseDict judges the rest.
        if not isinstance(body, dict):
            raise _BadRequest(HTTPStatus.BAD_REQUEST,
                              'body must be a JSON object {"payloads": [...]}')
        try:
            message = json_format.ParseDict(body, Payloads())
        except json_format.ParseError as err:
            first = str(err).splitlines()[0]
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"not temporal Payloads JSON: {first}") from None
        return list(message.payloads)

    # -- responses ----------------------------------------------------------------------------

    def _cors_headers(self, origin: str) -> None:
        self.send_header("Access-Control-Allow-Origin", origin)
        self.send_header("Access-Control-Allow-Credentials", "true")
        self.send_header("Vary", "Origin")

    def _send(
        self,
        status: HTTPStatus,
        body: dict[str, Any],
        *,
        cors: bool = True,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        origin = self.headers.get("Origin")
        if cors and origin is not None and self._origin_allowed(origin):
            self._cors_headers(origin)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Decoded payloads hold personal data: no cache may keep a copy.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines and status codes only; bodies (personal data) are never logged.
        if self.server.quiet:
            return
        sys.stderr.write(f"codec-server {self.address_string()} {format % args}\n")


async def _apply(codec: EncryptionCodec, operation: str, payloads: Sequence[Payload]) -> list[Payload]:
    out: list[Payload] = []
    for index, payload in enumerate(payloads):
        try:
            if operation == "decode":
                out += await codec.decode([payload])
            else:
                out += await codec.encode([payload])
        except CodecKeyError as err:
            raise _BadRequest(HTTPStatus.BAD_REQUEST, f"payload {index}: {err}") from None
        except (InvalidTag, DecodeError, ValueError):
            raise _BadRequest(
                HTTPStatus.BAD_REQUEST,
                f"payload {index}: cannot be {operation}d (corrupt, or encrypted with another key)",
            ) from None
    return out
