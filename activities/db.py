"""The one asyncpg pool, created at start-up and handed to every activity class that needs it."""

from __future__ import annotations

import asyncpg


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset statement.

    The reset (`UNLISTEN *`, `RESET ALL`, unlock every advisory lock) is one more round trip on
    every release, which is every record a case writes. Pooled connections here keep no session
    state: their locks are transaction-scoped and listeners use their own connections, and asyncpg
    still rolls back a transaction left open before it hands the connection out again.
    """

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, command_timeout=10, connection_class=_Connection
    )
    assert pool is not None
    return pool
