"""`aftersales codec-server` as a command: build the codec, bind the server, run it.

`codec_from_settings` turns the configured keys into an `EncryptionCodec`; `make_server` binds a
`CodecHTTPServer` (one-line `CodecServerError` when the address is taken); `serving` runs one on a
background thread for the length of a `with` block (the tests use it);
`add_codec_server_parser` and `run_codec_server` are the CLI subcommand, which serves until SIGINT
or SIGTERM and turns any configuration problem into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from codec_server.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    CodecServerConfig,
    CodecServerError,
)
from codec_server.http import CodecHTTPServer
from runtime.settings import Settings
from workflows.codec import CodecKeyError, EncryptionCodec, parse_keys


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
        description="Needs AFTERSALES_CODEC_TOKEN and the codec keys; see codec_server/.",
    )
    p.add_argument("--host", help=f"address to listen on (AFTERSALES_CODEC_HOST, default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, help=f"port (AFTERSALES_CODEC_PORT, default {DEFAULT_PORT})")


def run_codec_server(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM. A configuration problem prints one line and returns 2."""
    try:
        config = CodecServerConfig.from_env(settings.codec_variables)
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
