"""Worker wiring: settings, logging, the asyncpg pool, providers, and the Temporal worker.

Dependencies are built here, once, and handed to the activity classes; nothing inside an
activity class builds its own. Tests use `build_worker` with their own client, pool and policy.
Beside the Temporal worker runs an outbox dispatcher (unless AFTERSALES_WORKER_DISPATCH is off),
so a stack of workers needs no other process to deliver notifications; of several, one leads.
Each also runs a webhook starter, which starts a `WebhookDelivery` workflow per delivery row
recorded; of several, one leads there too. With AFTERSALES_METRICS_PORT set it serves Prometheus
metrics there (`runtime/metrics.py`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from activities.db import create_pool
from activities.followups import FollowUps, VisitLedger, VisitProvider
from activities.http_providers import ProviderConfigError, http_providers_from_env
from activities.memory import (
    MemoryNotifications,
    MemoryOutbox,
    MemoryProjection,
    MemoryRefunds,
    MemoryShipments,
    MemoryVisits,
)
from activities.notifier import NotificationProvider, Notifier, OutboxNotifications
from activities.policy_source import PolicySource
from activities.refunds import LedgerRefunds, RefundProvider, Refunds
from activities.roster import NoRoster, Roster, RosterProvider
from activities.roster_pg import PostgresRoster
from activities.shipments import ShipmentProvider, Shipments, WarehouseLedger
from activities.store import CaseStore, PostgresProjection, Projection
from activities.webhooks import PostgresWebhooks, WebhookDeliveries, WebhookProvider
from cases.policy import Policy, load_policy
from outbox.command import dispatcher_from_settings
from outbox.dispatcher import dispatching
from outbox.leader import connector
from outbox.sink import LogSink
from outbox.webhook_starter import WebhookStarter, starting
from runtime.connect import connect
from runtime.errors import UserError
from runtime.log import LogContextInterceptor, configure_logging, get_logger
from runtime.metrics import OpenCaseGauges, gauging, metrics_runtime
from runtime.settings import Settings
from workflows.case_workflow import AfterSalesCase
from workflows.sandbox import workflow_runner
from workflows.webhook_delivery import WebhookDelivery


def activities_for(
    pool: asyncpg.Pool,
    policy: Policy,
    *,
    projection: Projection | None = None,
    refunds: RefundProvider | None = None,
    shipments: ShipmentProvider | None = None,
    visits: VisitProvider | None = None,
    notifications: NotificationProvider | None = None,
    roster: RosterProvider | None = None,
) -> list[Any]:
    """The activities over PostgreSQL providers, with any of them replaced.

    `run_worker` leaves `notifications` at the outbox: the provider itself belongs to the
    dispatcher, and the activity only queues. Tests may still put a provider in its place.
    """
    return activities_over(
        policy,
        projection=projection or PostgresProjection(pool),
        notifications=notifications or OutboxNotifications(pool),
        refunds=refunds or LedgerRefunds(pool),
        shipments=shipments or WarehouseLedger(pool),
        visits=visits or VisitLedger(pool),
        roster=roster or PostgresRoster(pool, policy.calendar),
    )


def in_memory_activities(policy: Policy, **providers: Any) -> list[Any]:
    """The activities over in-memory providers (workflow tests), with any of them replaced."""
    defaults: dict[str, Any] = {
        "projection": MemoryProjection(),
        "notifications": MemoryNotifications(),
        "refunds": MemoryRefunds(),
        "shipments": MemoryShipments(),
        "visits": MemoryVisits(),
        "roster": NoRoster(),
    }
    chosen = defaults | providers
    chosen["projection"] = MemoryOutbox(chosen["projection"], chosen["notifications"])
    return activities_over(policy, **chosen)


def activities_over(
    policy: Policy,
    *,
    projection: Projection,
    notifications: NotificationProvider,
    refunds: RefundProvider,
    shipments: ShipmentProvider,
    visits: VisitProvider,
    roster: RosterProvider,
) -> list[Any]:
    store = CaseStore(projection)
    routing = Roster(roster)
    notifier = Notifier(notifications)
    money = Refunds(refunds)
    goods = Shipments(shipments)
    follow_ups = FollowUps(visits)
    return [
        PolicySource(policy).load,
        store.record,
        notifier.send,
        money.execute,
        money.reverse,
        goods.ship,
        goods.cancel,
        follow_ups.schedule,
        follow_ups.cancel,
        routing.place,
        routing.take,
        routing.release,
    ]


def webhook_activities(provider: WebhookProvider) -> list[Any]:
    hooks = WebhookDeliveries(provider)
    return [hooks.deliver, hooks.expire]


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Any],
    *,
    max_cached_workflows: int = 1000,
    max_concurrent_workflow_tasks: int | None = None,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AfterSalesCase, WebhookDelivery],
        activities=list(activities),
        interceptors=[LogContextInterceptor()],
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
    )


async def run_worker(settings: Settings) -> None:
    """The production worker: runs until SIGINT or SIGTERM, then drains and exits."""
    configure_logging()
    log = get_logger("aftersales.worker")
    policy = load_policy(settings.policy_path)
    if not settings.database_url:
        raise UserError("DATABASE_URL is not set")
    # One HTTP client for every external provider; its timeouts stay under the activities' 30 s.
    http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
    try:
        providers = http_providers_from_env(settings.provider_variables, http)
    except ProviderConfigError as err:
        await http.aclose()
        raise UserError(str(err)) from err
    # The send_notification activity of older runs only queues in the outbox; delivery, to the
    # partner or else the log, is the dispatcher's.
    notifications = providers.pop("notifications", None) or LogSink()
    dispatcher = dispatcher_from_settings(settings, notifications) if settings.worker_dispatch else None
    runtime = metrics_runtime(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    pool = await create_pool(settings.database_url)
    client = await connect(settings, runtime)
    gauges = OpenCaseGauges(pool, runtime.metric_meter) if runtime is not None else None
    activities = activities_for(pool, policy, **providers) + webhook_activities(PostgresWebhooks(pool, http))
    worker = build_worker(client, settings.task_queue, activities)
    webhooks = WebhookStarter(connector(settings.database_url), client, settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        temporal=settings.temporal_address,
        namespace=settings.temporal_namespace,
        dispatcher=dispatcher is not None,
        metrics_port=settings.metrics_port,
    )
    try:
        async with worker, dispatching(dispatcher), starting(webhooks), gauging(gauges):
            await stop.wait()
    finally:
        await http.aclose()
        await pool.close()
        log.info("worker stopped")

