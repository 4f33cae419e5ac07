"""`aftersales up`: the whole local stack in the foreground, supervised, stopped cleanly by Ctrl-C.

It starts, in order, the embedded PostgreSQL (unless DATABASE_URL names a server), the Temporal dev
server backed by a file so cases survive a restart, the schema migrations, one worker process
(whose build it makes current, `devstack/builds.py`) and the HTTP API (with one local key per
role, kept in `<home>/api-keys.env`); prints where everything is; then waits. Every child runs in
its own process group, so a Ctrl-C in the terminal reaches only this process, which then stops
the worker first (it depends on both servers) and the API, then Temporal, then PostgreSQL.
Everything started is registered for teardown before it is started, so a failure half-way through
start-up, a child dying later, SIGTERM or SIGHUP all end with no process left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from temporalio.service import RPCError

from activities import schema
from devstack.builds import put_in_service
from devstack.database import database_url_or_embedded
from devstack.postgres import EmbeddedPostgres, EmbeddedPostgresError
from devstack.processes import (
    port_in_use,
    signals_deferred,
    spawn_in_own_group,
    stop_process_group,
)
from devstack.temporal_server import DevServer, DevServerError, temporal_binary
from runtime.deployment.build import DEPLOYMENT_NAME, build_id
from runtime.settings import Settings
from workflows.codec import new_key_spec

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0", "::1", ""}
_POLL_S = 0.5


class _Interrupted(Exception):
    """Raised from the signal handler to unwind start-up or the wait loop."""


class _StartupError(Exception):
    """A start-up step failed for a reason worth one line, not a traceback."""


class _Shutdown:
    """Signal state: the first signal interrupts, later ones must not cut the teardown short."""

    def __init__(self) -> None:
        self.started = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.started:
            return
        self.started = True
        raise _Interrupted(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"aftersales up: {message}", file=sys.stderr, flush=True)


def _temporal_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, 7233
    return host.strip("[]"), int(port)


def _masked(dsn: str) -> str:
    """The DSN with any password replaced, fit for a terminal."""
    parts = urlsplit(dsn)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return dsn


def api_bind() -> tuple[str, int]:
    """Where the local API listens: AFTERSALES_API_BIND (HOST:PORT), by default localhost:8000."""
    bind = os.environ.get("AFTERSALES_API_BIND") or "127.0.0.1:8000"
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port) if port.isdigit() else -1


def _check_ports(settings: Settings) -> str | None:
    """One-line complaint about the configured ports, or None when they are usable."""
    api_host, api_port = api_bind()
    if api_port < 0:
        return "AFTERSALES_API_BIND is not HOST:PORT"
    if port_in_use(api_port):
        return f"port {api_port} is already in use (HTTP API); stop whatever holds it or set AFTERSALES_API_BIND"
    try:
        host, port = _temporal_port(settings.temporal_address)
    except ValueError:
        return f"TEMPORAL_ADDRESS {settings.temporal_address!r} is not host:port"
    if host not in _LOCAL_HOSTS:
        return (
            f"TEMPORAL_ADDRESS points to {host}; `up` runs a local server, "
            "so use localhost:PORT (or unset it)"
        )
    if port == settings.ui_port:
        return f"the Temporal port and the Web UI port are both {port}; set AFTERSALES_UI_PORT"
    if port_in_use(port):
        return (
            f"port {port} is already in use (Temporal gRPC); "
            "stop whatever holds it or set TEMPORAL_ADDRESS"
        )
    if port_in_use(settings.ui_port):
        return (
            f"port {settings.ui_port} is already in use (Temporal Web UI); "
            "stop whatever holds it or set AFTERSALES_UI_PORT"
        )
    return None


def _ensure_codec_keys(settings: Settings, home: Path) -> str:
    """The payload encryption keys: the configured ones, else a key kept in the stack's home.

    The CLI run from the same folder finds the same file through `Settings.codec_key_spec`,
    so cases opened by hand are readable by the worker and by `aftersales show`.
    """
    spec = settings.codec_key_spec()
    if spec:
        return spec
    spec = new_key_spec("local-1")
    path = home / "codec.keys"
    path.touch(mode=0o600)
    path.write_text(spec + "\n")
    return spec


def _worker_env(settings: Settings, temporal_address: str, dsn: str, codec_keys: str) -> dict[str, str]:
    # The local worker talks to the local plaintext dev server only: a developer's own Temporal
    # profile or exported API key (which would turn TLS on) must not follow it there.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env["TEMPORAL_CONFIG_FILE"] = os.devnull
    env["AFTERSALES_CODEC_KEYS"] = codec_keys
    env["TEMPORAL_ADDRESS"] = temporal_address
    env["DATABASE_URL"] = dsn
    env["TEMPORAL_NAMESPACE"] = settings.temporal_namespace
    env["AFTERSALES_TASK_QUEUE"] = settings.task_queue
    if settings.policy_path is not None:
        env["AFTERSALES_POLICY"] = str(settings.policy_path.resolve())
    # `python -m starter.cli` must import this checkout even when it is not pip-installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


# Where the local worker serves Prometheus metrics unless AFTERSALES_METRICS_PORT says otherwise.
LOCAL_METRICS_PORT = 9464


def _metrics_port(settings: Settings) -> int | None:
    """The port the local worker serves metrics on: the setting, else 9464 while it is free."""
    if settings.metrics_port is not None:
        return settings.metrics_port
    return None if port_in_use(LOCAL_METRICS_PORT) else LOCAL_METRICS_PORT


def _migrate(dsn: str) -> list[str]:
    try:
        return list(asyncio.run(schema.migrate(dsn)))
    except (TimeoutError, OSError) as exc:
        raise _StartupError(f"cannot reach PostgreSQL at {_masked(dsn)}: {exc}") from exc


def _start_and_wait(settings: Settings, stack: ExitStack, shutdown: _Shutdown) -> int:
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    _, port = _temporal_port(settings.temporal_address)
    codec_keys = _ensure_codec_keys(settings.model_copy(update={"home": home}), home)

    # `up` owns the folder's server, so it stops it on the way out even if it found it running.
    database = stack.enter_context(
        database_url_or_embedded(
            settings.model_copy(update={"home": home}), stop_if_already_running=True, announce=_say
        )
    )
    dsn, embedded = database.dsn, database.embedded

    temporal_log = home / "temporal.log"
    dev = DevServer(
        db_file=home / "temporal.db",
        port=port,
        ui_port=settings.ui_port,
        namespace=settings.temporal_namespace,
        log_file=temporal_log,
    )
    stack.callback(_stop_dev_server, dev)
    _say(f"starting Temporal dev server on {dev.address} (log: {temporal_log})")
    dev.start()

    applied = _migrate(dsn)
    _say(f"schema migrations applied: {', '.join(applied)}" if applied else "schema is up to date")

    worker_log = home / "worker.log"
    metrics_port = _metrics_port(settings)
    # On this machine only: the local stack has no scraper elsewhere to serve.
    metrics_env = (
        {"AFTERSALES_METRICS_PORT": str(metrics_port), "AFTERSALES_METRICS_HOST": "127.0.0.1"} if metrics_port else {}
    )
    with open(worker_log, "ab") as log, signals_deferred():
        worker = spawn_in_own_group(
            [sys.executable, "-m", "starter.cli", "worker"],
            stdout=log,
            env=_worker_env(settings, dev.address, dsn, codec_keys) | metrics_env,
        )
        stack.callback(_stop_worker, worker)
    build = build_id(settings.build_id)
    for line in _put_in_service(settings, dev.address, build):
        _say(line)

    api_log = home / "api.log"
    keys_file = home / "api-keys.env"
    api_host, api_port = api_bind()
    with open(api_log, "ab") as log, signals_deferred():
        api = spawn_in_own_group(
            [sys.executable, "-m", "starter.cli", "api", "--local-keys", str(keys_file)],
            stdout=log,
            env=_worker_env(settings, dev.address, dsn, codec_keys) | {"AFTERSALES_API_BIND": f"{api_host}:{api_port}"},
        )
        stack.callback(_stop_worker, api, "API")

    pg_line = f"{_masked(dsn)} (embedded)" if embedded is not None else _masked(dsn)
    print(
        "\n".join(
            [
                "",
                "aftersales local stack is running",
                f"  Temporal gRPC   {dev.address}",
                f"  Web UI          {dev.ui_url}",
                f"  namespace       {settings.temporal_namespace}",
                f"  task queue      {settings.task_queue}",
                f"  build           {DEPLOYMENT_NAME}:{build} (current; `aftersales deployments` lists all)",
                f"  PostgreSQL      {pg_line}",
                f"  worker          pid {worker.pid}, log {worker_log}",
                (
                    f"  metrics         http://127.0.0.1:{metrics_port}/metrics (Prometheus)"
                    if metrics_port
                    else f"  metrics         off (port {LOCAL_METRICS_PORT} is taken; set AFTERSALES_METRICS_PORT)"
                ),
                f"  HTTP API        http://{api_host}:{api_port} (OpenAPI /openapi.json, docs /docs), log {api_log}",
                f"  API keys        {keys_file} (one per role: source it)",
                f"  Temporal log    {temporal_log}",
                (
                    f"  payload keys    {'AFTERSALES_CODEC_KEYS' if settings.codec_keys else home / 'codec.keys'}"
                    " (customer data is encrypted in Temporal)"
                ),
                "",
                "open a case: aftersales open samples/case.json",
                "Ctrl-C stops everything.",
                "",
            ]
        ),
        flush=True,
    )

    while True:
        died = _first_dead_child(worker, dev, embedded, worker_log, temporal_log)
        if died is None and api.poll() is not None:
            died = f"the HTTP API exited unexpectedly with status {api.returncode} (see {api_log})"
        if died is not None:
            # From here on a signal must not interrupt the teardown that follows.
            shutdown.started = True
            _say(f"{died}; stopping the rest")
            return 1
        time.sleep(_POLL_S)


def _first_dead_child(
    worker: subprocess.Popen[bytes],
    dev: DevServer,
    embedded: EmbeddedPostgres | None,
    worker_log: Path,
    temporal_log: Path,
) -> str | None:
    code = worker.poll()
    if code is not None:
        return f"the worker exited unexpectedly with status {code} (see {worker_log})"
    code = dev.poll()
    if code is not None:
        return (
            f"the Temporal dev server exited unexpectedly with status {code} (see {temporal_log})"
        )
    if embedded is not None and not embedded.is_running():
        return f"the embedded PostgreSQL stopped unexpectedly (see {embedded.data_dir / 'log'})"
    return None


def _put_in_service(settings: Settings, address: str, build: str) -> list[str]:
    try:
        return asyncio.run(put_in_service(address, settings.temporal_namespace, settings.task_queue, build))
    except RPCError as exc:
        raise _StartupError(f"the worker of build {build} did not reach Temporal: {exc.message}") from exc


def _stop_worker(worker: subprocess.Popen[bytes], what: str = "worker") -> None:
    _say(f"stopping {what} (pid {worker.pid})")
    stop_process_group(worker)


def _stop_dev_server(dev: DevServer) -> None:
    if dev.pid is not None:
        _say(f"stopping Temporal dev server (pid {dev.pid})")
    dev.stop()


def run_up(settings: Settings) -> int:
    """Run the local stack until Ctrl-C/SIGTERM (0), a child dies (1) or a port is taken (2)."""
    problem = _check_ports(settings)
    if problem is not None:
        _say(problem)
        return 2
    try:
        temporal_binary()
    except DevServerError as exc:
        _say(str(exc))
        return 2

    shutdown = _Shutdown()
    previous = {sig: signal.getsignal(sig) for sig in _HANDLED_SIGNALS}
    for sig in _HANDLED_SIGNALS:
        signal.signal(sig, shutdown.handler)
    stack = ExitStack()
    try:
        try:
            rc = _start_and_wait(settings, stack, shutdown)
        except _Interrupted as exc:
            _say(f"{exc.args[0] if exc.args else 'signal'} received; shutting down")
            rc = 0
        except (_StartupError, DevServerError, EmbeddedPostgresError) as exc:
            shutdown.started = True
            _say(f"start-up failed: {exc}")
            rc = 1
        finally:
            shutdown.started = True
            # Reverse order of start: the API, the worker, then Temporal, then PostgreSQL.
            stack.close()
    finally:
        for sig, handler in previous.items():
            # None means a handler installed outside Python; it cannot be put back from here.
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    _say("stopped")
    return rc
