"""Worker wiring: settings, logging, the asyncpg pool, providers, and the Temporal worker.

Dependencies are built here, once, and handed to the activity classes; nothing inside an
activity class builds its own. Tests use `build_worker` with their own client, pool and policy.
Beside the Temporal worker runs an outbox dispatcher (unless AFTERSALES_WORKER_DISPATCH is off),
so a stack of workers needs no other process to deliver notifications; of several, one leads.
Each also runs a webhook starter, which starts a `WebhookDelivery` workflow per delivery row
recorded; of several, one leads there too. With AFTERSALES_METRICS_PORT set it serves Prometheus
metrics there (`runtime/metrics.py`). The production worker is a versioned build of the
`aftersales` deployment (`runtime/deployment/`): every case it starts stays pinned to it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.db import create_pool
from activities.followups import FollowUps, VisitLedger, VisitProvider
from activities.http_providers import ProviderConfigError, http_providers_from_env
from activities.item_history import ItemHistory, MemoryRepairRecord, PostgresRepairRecord, RepairRecord
from activities.memory import (
    MemoryNotifications,
    MemoryOutbox,
    MemoryProjection,
    MemoryRefunds,
    MemoryShipments,
    MemoryVisits,
)
from activities.merchants import MerchantRegistry
from activities.policy_source import MerchantPolicies, NoMerchantPolicies, PolicySource
from activities.refunds import LedgerRefunds, RefundProvider, Refunds
from activities.roster.activity import NoRoster, Roster, RosterProvider
from activities.roster.postgres import PostgresRoster
from activities.shipments import ShipmentProvider, Shipments, WarehouseLedger
from activities.store import CaseStore, PostgresProjection, Projection
from activities.webhooks.delivery import PostgresWebhooks, WebhookDeliveries, WebhookProvider
from cases.policy.snapshot import Policy, load_policy
from outbox.command import dispatcher_from_settings
from outbox.dispatcher import dispatching
from outbox.leader import connector
from outbox.sink import LogSink
from outbox.webhook_starter import WebhookStarter, starting
from runtime.connect import connect, converter_for
from runtime.deployment.build import DEPLOYMENT_NAME, build_id, worker_config
from runtime.deployment.server import current_build, make_current_if_none
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
    roster: RosterProvider | None = None,
    merchants: MerchantPolicies | None = None,
    repairs: RepairRecord | None = None,
) -> list[Any]:
    """The activities over PostgreSQL providers, with any of them replaced.

    Notifications have no activity: the record queues them in the outbox, and the provider that
    delivers them belongs to the dispatcher.
    """
    return activities_over(
        policy,
        projection=projection or PostgresProjection(pool),
        refunds=refunds or LedgerRefunds(pool),
        shipments=shipments or WarehouseLedger(pool),
        visits=visits or VisitLedger(pool),
        roster=roster or PostgresRoster(pool, policy.calendar),
        merchants=merchants or MerchantRegistry(pool),
        repairs=repairs or PostgresRepairRecord(pool),
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
        "merchants": NoMerchantPolicies(),
        "repairs": MemoryRepairRecord(),
    }
    chosen = defaults | providers
    # The in-memory record delivers its outbox rows at once: there is no dispatcher here.
    chosen["projection"] = MemoryOutbox(chosen["projection"], chosen.pop("notifications"))
    return activities_over(policy, **chosen)


def activities_over(
    policy: Policy,
    *,
    projection: Projection,
    refunds: RefundProvider,
    shipments: ShipmentProvider,
    visits: VisitProvider,
    roster: RosterProvider,
    merchants: MerchantPolicies,
    repairs: RepairRecord,
) -> list[Any]:
    store = CaseStore(projection)
    routing = Roster(roster)
    money = Refunds(refunds)
    goods = Shipments(shipments)
    follow_ups = FollowUps(visits)
    return [
        PolicySource(policy, merchants).load,
        ItemHistory(repairs).repairs,
        store.record,
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
    deployment: WorkerDeploymentConfig | None = None,
) -> Worker:
    """A worker of both workflow types; versioned with `deployment`, unversioned without (the
    time-skipping tests, and test workers on a task queue of their own)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AfterSalesCase, WebhookDelivery],
        activities=list(activities),
        interceptors=[LogContextInterceptor()],
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        deployment_config=deployment,
    )


async def take_place(client: Client, build: str) -> None:
    """Say where this build stands in the deployment, making it current if no build is.

    Never fails the worker: a server that cannot answer only costs the log line.
    """
    log = get_logger("aftersales.worker")
    try:
        if await make_current_if_none(client, build, timedelta(seconds=60)):
            log.info("build made current: the deployment had none", build_id=build)
            return
        current = await current_build(client)
    except RPCError as err:
        log.warning("deployment not readable", build_id=build, error=err.message)
        return
    except Exception as err:  # noqa: BLE001 - a background task: unlogged, it would vanish
        log.warning("deployment not readable", build_id=build, error=type(err).__name__)
        return
    if current != build:
        # Cases stay on the build they started on (docs/DEPLOY.md): this one runs only those.
        log.warning("build is not current: new cases go to the current one", build_id=build, current=current)


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
    # The record queues notifications in the outbox; delivery, to the partner or else the log, is
    # the dispatcher's.
    notifications = providers.get("notifications") or LogSink()
    dispatcher = dispatcher_from_settings(settings, notifications) if settings.worker_dispatch else None
    runtime = metrics_runtime(settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    pool = await create_pool(settings.database_url)
    client = await connect(settings, runtime, compress=True)
    gauges = OpenCaseGauges(pool, runtime.metric_meter) if runtime is not None else None
    activities = activities_for(
        pool, policy, refunds=providers.get("refunds"), shipments=providers.get("shipments")
    ) + webhook_activities(PostgresWebhooks(pool, http))
    build = build_id(settings.build_id)
    worker = build_worker(client, settings.task_queue, activities, deployment=worker_config(build))
    # Webhook deliveries start on whichever build is current, maybe an older one that cannot read
    # a compressed payload: their starts go uncompressed (workflows/codec.py).
    plain = Client(**(client.config() | {"data_converter": converter_for(settings)}))
    webhooks = WebhookStarter(connector(settings.database_url), plain, settings.task_queue)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker started",
        task_queue=settings.task_queue,
        temporal=settings.temporal_address,
        namespace=settings.temporal_namespace,
        deployment=DEPLOYMENT_NAME,
        build_id=build,
        dispatcher=dispatcher is not None,
        metrics_port=settings.metrics_port,
    )
    try:
        async with worker, dispatching(dispatcher), starting(webhooks), gauging(gauges):
            placing = asyncio.create_task(take_place(client, build))
            await stop.wait()
            placing.cancel()
    finally:
        await http.aclose()
        await pool.close()
        log.info("worker stopped")

