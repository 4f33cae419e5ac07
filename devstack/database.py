"""Which PostgreSQL a command uses: the server DATABASE_URL names, else the embedded one.

`aftersales up`, `migrate` and `report` all need the application database and all make the same
choice: a configured DATABASE_URL wins; without one they run the embedded PostgreSQL in
`<home>/pgdata` for as long as they need it. `database_url_or_embedded` is that choice written
once, as a context manager yielding a `Database` (the DSN, and the embedded server when one is in
use, so a supervisor can watch it). The embedded server is stopped on exit, also when start-up
fails half-way, but one another command was already running is left running by default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from devstack.postgres import EmbeddedPostgres
from runtime.settings import Settings


@dataclass(frozen=True)
class Database:
    """The application database for one command: its DSN, and the embedded server if one is used."""

    dsn: str
    embedded: EmbeddedPostgres | None = None


@contextlib.contextmanager
def database_url_or_embedded(
    settings: Settings,
    *,
    stop_if_already_running: bool = False,
    announce: Callable[[str], None] | None = None,
) -> Iterator[Database]:
    """DATABASE_URL's server if it is set, else the embedded PostgreSQL in `<home>/pgdata`.

    The embedded server is started on entry and stopped on exit, also when start-up fails half-way.
    One that was already running (an `aftersales up` in another terminal) is left running, unless
    `stop_if_already_running` (what `up` itself wants: it owns the folder's server). `announce`, if
    given, is told in a line when the server is started and when it is stopped.
    """
    if settings.database_url:
        yield Database(settings.database_url)
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    server = EmbeddedPostgres(settings.home / "pgdata")
    stop = stop_if_already_running or not server.is_running()
    try:
        if announce is not None:
            announce(f"starting embedded PostgreSQL in {server.data_dir}")
        yield Database(server.start(), server)
    finally:
        if stop:
            if announce is not None and server.pid is not None:
                announce(f"stopping embedded PostgreSQL (pid {server.pid})")
            server.stop()
