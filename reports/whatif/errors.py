"""What a database failure during the what-if means to whoever ran it: `database_failure`.

The command and every worker process of a parallel what-if map a failure the same way, so a
period replayed on four cores fails with the same one line as one replayed in the parent. The
errors it returns are plain `UserError` / `ServiceError`, which cross a process boundary
unchanged (an asyncpg error need not survive pickling).
"""

from __future__ import annotations

import asyncpg

from runtime.errors import ServiceError, UserError

NO_TABLES = "the database has no case tables yet; run `aftersales migrate` first"


def database_failure(err: BaseException) -> UserError | ServiceError | None:
    """The one-line error for a failure of the database or of the connection to it, or None
    for anything else (a fault of the what-if itself, which should show as one)."""
    if isinstance(err, UserError | ServiceError):
        return err
    if isinstance(err, asyncpg.UndefinedTableError):
        return UserError(NO_TABLES)
    if isinstance(err, asyncpg.PostgresError):
        # The server's own first line (e.g. "permission denied for table routing_answers").
        first = (str(err).splitlines() or [""])[0]
        return ServiceError(f"PostgreSQL refused the what-if's reads: {type(err).__name__}: {first}")
    if isinstance(err, OSError | TimeoutError | asyncpg.InterfaceError):
        return ServiceError(f"lost PostgreSQL during the what-if: {type(err).__name__}")
    return None
