"""`aftersales codec-server`: the remote codec endpoint the Temporal Web UI and CLI call.

Case payloads are encrypted by `workflows.codec.EncryptionCodec` before they reach Temporal, so
the Web UI, on its own, shows only ciphertext. This server holds the keys and answers the remote
codec protocol: `POST …/decode` and `POST …/encode`, with a JSON body `{"payloads": [...]}` in
the protobuf JSON form of `temporal.api.common.v1.Payloads`, answered in the same shape. Only the
last path segment selects the operation, so it can be mounted under any prefix (for example
`/{namespace}/decode`). The operator's browser calls it directly, so it answers CORS for the
configured UI origins only, and every encode or decode needs the token, as
`Authorization: Bearer <token>` (CLI, scripts) or as the first path segment (the Web UI, whose
data encoder setting is a URL): whoever can call it can read customers' personal data. It is built on the standard library
(`http.server`), so it adds no dependency to the image.

Configuration comes from the environment: `AFTERSALES_CODEC_TOKEN` (required),
`AFTERSALES_CODEC_PORT` (8081), `AFTERSALES_CODEC_HOST` (127.0.0.1; 0.0.0.0 in a container),
`AFTERSALES_CODEC_ORIGINS` (comma-separated, `http://localhost:8233`), and the codec keys from
`Settings.codec_key_spec()`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hmac
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads

from runtime.settings import Settings
from workflows.codec import CodecKeyError, EncryptionCodec, parse_keys

DEFAULT_PORT = 8081
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ORIGINS = ("http://localhost:8233",)
# A token short enough to guess would make the bearer check decorative.
MIN_TOKEN_LENGTH = 16
# A whole workflow history's payloads fit easily; anything larger is not a UI request.
MAX_BODY_BYTES = 32 * 1024 * 1024
_DRAIN_LIMIT = 64 * 1024

ALLOW_METHODS = "POST"
ALLOW_HEADERS = "Content-Type, X-Namespace, Authorization"
OPERATIONS = ("encode", "decode")


class CodecServerError(Exception):
    """The codec server cannot start: a setting is missing or invalid. The message is one line."""


@dataclass(frozen=True)
class CodecServerConfig:
    token: str
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    origins: tuple[str, ...] = DEFAULT_ORIGINS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CodecServerConfig:
        env = os.environ if env is None else env
        token = (env.get("AFTERSALES_CODEC_TOKEN") or "").strip()
        if not token:
            raise CodecServerError(
                "AFTERSALES_CODEC_TOKEN is not set; the codec server refuses to serve "
                "decrypted payloads without a bearer token"
            )
        if len(token) < MIN_TOKEN_LENGTH:
            raise CodecServerError(
                f"AFTERSALES_CODEC_TOKEN is too short ({len(token)} characters, "
                f"at least {MIN_TOKEN_LENGTH})"
            )
        port_text = (env.get("AFTERSALES_CODEC_PORT") or str(DEFAULT_PORT)).strip()
        try:
            port = int(port_text)
        except ValueError:
            raise CodecServerError(f"AFTERSALES_CODEC_PORT: not a port number: {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise CodecServerError(f"AFTERSALES_CODEC_PORT: out of range: {port}")
        origins = _parse_origins(env.get("AFTERSALES_CODEC_ORIGINS"))
        host = (env.get("AFTERSALES_CODEC_HOST") or DEFAULT_HOST).strip()
        return cls(token=token, port=port, host=host, origins=origins)


def _parse_origins(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return DEFAULT_ORIGINS
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            # A wildcard cannot be combined with credentials, and would hand the keys' power
            # to any page the operator happens to open.
            raise CodecServerError("AFTERSALES_CODEC_ORIGINS: '*' is not allowed; list the UI origins")
        if not origin.startswith(("http://", "https://")):
            raise CodecServerError(
                f"AFTERSALES_CODEC_ORIGINS: {origin!r} is not an origin such as http://localhost:8233"
            )
    return origins


# -- the HTTP side ----------------------------------------------------------------------------


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


# -- building and running ---------------------------------------------------------------------


def codec_from_settings(settings: Settings) -> EncryptionCodec:
    spec = settings.codec_key_spec()
    if not spec:
        raise CodecServerError(
            "no codec keys: set AFTERSALES_CODEC_KEYS (id:base64key[,…]) or create "
            f"{settings.home / 'codec.keys'}"
        )
    return EncryptionCodec(parse_keys(spec))


def make_server(config: CodecServerConfig, codec: EncryptionCodec, *, quiet: bool = False) -> CodecHTTPServer:
    """Bind the server (port 0 picks a free one); call `serve_forever` to run it."""
    try:
        return CodecHTTPServer((config.host, config.port), codec, config, quiet=quiet)
    except OSError as err:
        raise CodecServerError(
            f"cannot listen on {config.host}:{config.port}: {err.strerror or err}"
        ) from None


@contextlib.contextmanager
def serving(config: CodecServerConfig, codec: EncryptionCodec, *, quiet: bool = True) -> Iterator[CodecHTTPServer]:
    """Run the server on a background thread for the duration of the block."""
    server = make_server(config, codec, quiet=quiet)
    thread = threading.Thread(target=server.serve_forever, name="codec-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def add_codec_server_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "codec-server",
        help="serve the payload codec (decrypt/encrypt) to the Temporal Web UI and CLI",
        description="Needs AFTERSALES_CODEC_TOKEN and the codec keys; see starter/codec_server.py.",
    )
    p.add_argument("--host", help=f"address to listen on (AFTERSALES_CODEC_HOST, default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, help=f"port (AFTERSALES_CODEC_PORT, default {DEFAULT_PORT})")


def run_codec_server(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM. A configuration problem prints one line and returns 2."""
    try:
        config = CodecServerConfig.from_env()
        overrides: dict[str, Any] = {}
        if getattr(args, "host", None):
            overrides["host"] = args.host
        if getattr(args, "port", None) is not None:
            overrides["port"] = args.port
        if overrides:
            config = dataclasses.replace(config, **overrides)
        codec = codec_from_settings(settings)
        server = make_server(config, codec)
    except (CodecServerError, CodecKeyError) as err:
        print(f"aftersales codec-server: {err}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="codec-server", daemon=True)
    thread.start()
    print(
        f"aftersales codec-server: listening on http://{config.host}:{server.port} "
        f"(key {codec.active_key_id} active; origins {', '.join(config.origins)})",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
