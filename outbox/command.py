"""`aftersales dispatch` as a command, and the dispatcher a worker runs beside itself.

`notification_provider` picks where notifications go: the partner API named by
`AFTERSALES_PROVIDER_URL`, else the log sink. `dispatcher_from_settings` builds the dispatcher
over it. `run_dispatch` runs one until SIGINT or SIGTERM; a bad setting, an unknown database or a
schema without the outbox is a user error (one line, exit 2), an unreachable PostgreSQL at start
a service error (exit 1). After start-up, a lost database only makes the dispatcher wait.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import asyncpg
import httpx

from activities.http_providers import ProviderConfigError, http_providers_from_env
from activities.notifications import NotificationProvider
from outbox.dispatcher import Dispatcher, connector
from outbox.sink import LogSink
from runtime.errors import ServiceError, UserError
from runtime.log import configure_logging, get_logger
from runtime.settings import Settings


def http_client() -> httpx.AsyncClient:
    # Under the dispatcher's own per-delivery bound, so a hung partner surfaces as a timeout.
    return httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))


def notification_provider(settings: Settings, http: httpx.AsyncClient) -> NotificationProvider:
    try:
        providers = http_providers_from_env(settings.provider_variables, http)
    except ProviderConfigError as err:
        raise UserError(str(err)) from err
    return providers.get("notifications") or LogSink()


def dispatcher_from_settings(
    settings: Settings, provider: NotificationProvider, *, concurrency: int | None = None
) -> Dispatcher:
    if not settings.database_url:
        raise UserError("DATABASE_URL is not set")
    return Dispatcher(
        connector(settings.database_url),
        provider,
        concurrency=concurrency or settings.dispatch_concurrency,
    )


def add_dispatch_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "dispatch",
        help="deliver queued notifications from the outbox (one replica leads, others stand by)",
        description="Needs DATABASE_URL; sends to AFTERSALES_PROVIDER_URL, else logs each one.",
    )
    p.add_argument(
        "--concurrency", type=int,
        help="cases delivered at once (AFTERSALES_DISPATCH_CONCURRENCY, default 8)",
    )


async def run_dispatch(args: argparse.Namespace, settings: Settings) -> None:
    """Deliver until SIGINT or SIGTERM, then let in-flight deliveries finish and return."""
    concurrency = getattr(args, "concurrency", None)
    if concurrency is not None and concurrency < 1:
        raise UserError("--concurrency must be at least 1")
    configure_logging()
    log = get_logger("aftersales.outbox")
    async with http_client() as http:
        dispatcher = dispatcher_from_settings(
            settings, notification_provider(settings, http), concurrency=concurrency
        )
        assert settings.database_url is not None
        await _check_database(settings.database_url)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, dispatcher.stop)
        log.info("outbox dispatcher started")
        await dispatcher.run()
        log.info("outbox dispatcher stopped")


async def _check_database(dsn: str) -> None:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError) as err:
        raise ServiceError(f"cannot reach PostgreSQL ({type(err).__name__}: {err})") from err
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as err:
        raise UserError(f"DATABASE_URL: {type(err).__name__}: {err}") from err
    try:
        await conn.execute("SELECT id, next_attempt_at, deliveries FROM notifications LIMIT 0")
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as err:
        raise UserError("the database has no outbox yet; run `aftersales migrate` first") from err
    finally:
        await conn.close()
