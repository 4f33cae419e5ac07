"""`up`, `worker` and `migrate`: running the engine's processes and its schema."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from activities.schema import migrate
from devstack.database import database_url_or_embedded
from devstack.supervisor import run_up
from runtime.settings import Settings
from starter.cli.common import print_json
from worker import run_worker


def add_parsers(sub: Any) -> None:
    sub.add_parser("up", help="run the local stack (Temporal dev server + UI, PostgreSQL, worker)")
    sub.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS and DATABASE_URL")
    sub.add_parser("migrate", help="apply the database schema (harmless to repeat)")


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    # `aftersales up` may already be running the embedded server; it is left running then.
    with database_url_or_embedded(settings) as db:
        applied = await migrate(db.dsn)
    print_json({"applied": applied})


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(run_worker(settings))
    return 0


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    return run_up(settings)
