"""Versioned schema migrations, applied in order and recorded, so running them twice is harmless.

Each file `sql/NNN_name.sql` is one version. A PostgreSQL advisory lock serialises concurrent
migrators (several workers starting at once), and each version commits in its own transaction.
"""

from __future__ import annotations

from importlib import resources

import asyncpg

# Any constant works; it only has to be the same for every migrator of this schema.
_LOCK_ID = 0x0AF7E5A1E5


def _migrations() -> list[tuple[str, str]]:
    folder = resources.files("activities") / "sql"
    files = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in files]


async def migrate(dsn: str) -> list[str]:
    """Apply every migration not yet applied. Returns the versions applied by this call."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, sql in _migrations():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    finally:
        await conn.close()
    return applied
