"""The one asyncpg pool, created at start-up and handed to every activity class that needs it."""

from __future__ import annotations

import asyncpg


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, command_timeout=10)
    assert pool is not None
    return pool
