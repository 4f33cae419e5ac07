"""What every `aftersales` command shares: exit codes, JSON in and out, and the Temporal client."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import BaseModel

from activities.db import create_pool
from devstack.database import database_url_or_embedded
from devstack.postgres import EmbeddedPostgresError
from runtime.connect import connect
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings
from starter.client import CaseClient

USER_ERROR = 2
SERVICE_ERROR = 1


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    else:
        text = json.dumps(value, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{what}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err


def read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise UserError(f"{source}: no such file") from err
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise UserError(f"{source}: cannot read ({err.__class__.__name__})") from err


async def case_client(settings: Settings) -> CaseClient:
    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise ServiceError(
            f"cannot reach Temporal at {settings.temporal_address} ({err}); "
            "is `aftersales up` running, or TEMPORAL_ADDRESS set?"
        ) from err
    return CaseClient(client, settings.task_queue)


@contextlib.asynccontextmanager
async def database_pool(settings: Settings, *, max_size: int = 2, needs: str = "") -> AsyncIterator[asyncpg.Pool]:
    """A pool on the application database (DATABASE_URL, else the embedded one), closed on exit.

    `needs` names the migration a missing table means is not applied yet, for the one-line error.
    """
    try:
        with database_url_or_embedded(settings) as db:
            try:
                pool = await create_pool(db.dsn, max_size=max_size)
            except (OSError, TimeoutError, asyncpg.PostgresError) as err:
                raise ServiceError(f"cannot reach PostgreSQL: {err}") from err
            try:
                yield pool
            except asyncpg.UndefinedTableError as err:
                missing = f"the database has no {needs or 'such'} tables yet"
                raise UserError(f"{missing}; run `aftersales migrate` first") from err
            except (OSError, TimeoutError, asyncpg.PostgresError) as err:
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise ServiceError(f"PostgreSQL: {reason}") from err
            finally:
                await pool.close()
    except EmbeddedPostgresError as err:
        raise ServiceError(str(err).splitlines()[0]) from err
