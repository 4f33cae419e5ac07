"""The deployment's builds as the Temporal server knows them: make one current, and see each one drain.

Temporal's Python client has no high-level calls for Worker Deployments yet, so these go to the
workflow service directly. A build is known to the server once one of its workers has polled;
`set_current(..., allow_no_pollers=True)` names it before that (the compose setup job runs before
any worker). Open cases per build come from visibility (`TemporalWorkerDeploymentVersion`, which
holds `deployment:build`); `GROUP BY` is not supported on it, so each build is counted on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import BaseModel
from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionRef
from temporalio.api.enums.v1 import (
    RoutingConfigUpdateState,
    TaskQueueType,
    VersionDrainageStatus,
    WorkerDeploymentVersionStatus,
)
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentResponse,
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from runtime.deployment.build import DEPLOYMENT_NAME

T = TypeVar("T")

# A poller seen this recently still polls: workers come back for a task at least once a minute.
POLLING_WITHIN = timedelta(minutes=2)
# How long a new current build may take to reach every task queue before the caller goes on
# regardless (it gets there; a case started meanwhile waits for it).
ROUTING_SETTLES = timedelta(seconds=30)
# How long a busy deployment is waited for before its refusal is passed on.
BUSY_FOR = timedelta(seconds=60)
_IN_PROGRESS = RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS
IDENTITY = "aftersales"


class BuildView(BaseModel):
    """One build of the deployment, as `aftersales deployments` prints it."""

    build_id: str
    # current, ramping, draining, drained or inactive (Temporal's version status).
    status: str
    # Temporal's own drain check: draining until no pinned workflow runs on it (refreshed every
    # few minutes by default), drained after; empty while it is current.
    drainage: str
    # Open cases and other workflows pinned to it now, read from visibility.
    open_workflows: int
    polled: bool
    current_since: datetime | None = None


def version_value(build: str) -> str:
    """The build as the `TemporalWorkerDeploymentVersion` search attribute holds it."""
    return f"{DEPLOYMENT_NAME}:{build}"


def open_query(build: str) -> str:
    return f"TemporalWorkerDeploymentVersion = '{version_value(build)}' AND ExecutionStatus = 'Running'"


async def current_build(client: Client) -> str | None:
    """The current build, or None while the deployment has none (or does not exist yet)."""
    info = await _describe(client)
    if info is None:
        return None
    current = info.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def set_current(
    client: Client, build: str, *, allow_no_pollers: bool = False, conflict_token: bytes = b""
) -> str | None:
    """Make `build` current: new cases start on it, and pinned cases move at continue-as-new.
    Answers the build that was current before, if any.

    `allow_no_pollers` names a build no worker of which has polled yet (a setup job before the
    workers start); its task queues are then the ones its workers will poll, not yet known.
    Returns once the server has told every task queue, so a case started next starts on `build`.
    """
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace,
        deployment_name=DEPLOYMENT_NAME,
        build_id=build,
        identity=IDENTITY,
        allow_no_pollers=allow_no_pollers,
        ignore_missing_task_queues=allow_no_pollers,
        conflict_token=conflict_token,
    )
    response = await _patiently(lambda: client.workflow_service.set_worker_deployment_current_version(request))
    await _until_routed(client, ROUTING_SETTLES)
    return response.previous_deployment_version.build_id or None


async def _until_routed(client: Client, within: timedelta) -> None:
    deadline = time.monotonic() + within.total_seconds()
    while time.monotonic() < deadline:
        info = await _describe(client)
        if info is None or info.worker_deployment_info.routing_config_update_state != _IN_PROGRESS:
            return
        await asyncio.sleep(0.1)


async def wait_until_known(client: Client, build: str, timeout: timedelta) -> None:
    """Wait until a worker of `build` has polled, so the server knows the build."""
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        try:
            await _describe_version(client, build)
            return
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def make_current_if_none(client: Client, build: str, timeout: timedelta) -> bool:
    """Bootstrap a deployment nobody has made current yet; never moves one that is.

    Without a current build a versioned worker is sent no new case at all. Rolling a later build
    out stays a decision of the operator (`aftersales deployments set-current`).
    """
    if await current_build(client) is not None:
        return False
    await wait_until_known(client, build, timeout)
    info = await _describe(client)
    if info is None or info.worker_deployment_info.routing_config.current_deployment_version.build_id:
        return False
    try:
        # With the token of the read that found no current build: of two first builds starting
        # at once, one wins and the other is told the deployment changed meanwhile.
        await set_current(client, build, conflict_token=info.conflict_token)
    except RPCError as err:
        if err.status in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.ABORTED):
            return False
        raise
    return True


async def builds(client: Client, task_queue: str, polling_within: timedelta = POLLING_WITHIN) -> list[BuildView]:
    """Every build of the deployment, newest first, with its open workflows and whether any
    worker polled it on `task_queue` within `polling_within`."""
    info = await _describe(client)
    if info is None:
        return []
    summaries = sorted(
        info.worker_deployment_info.version_summaries, key=lambda s: _instant(s.create_time), reverse=True
    )
    polled = await polled_builds(client, task_queue, polling_within)
    views = []
    for summary in summaries:
        build = summary.deployment_version.build_id
        count = await client.count_workflows(open_query(build))
        views.append(
            BuildView(
                build_id=build,
                status=_status_name(summary.status),
                drainage=_drainage_name(summary.drainage_info.status or summary.drainage_status),
                open_workflows=count.count,
                polled=build in polled,
                current_since=(
                    _instant(summary.current_since_time) if summary.HasField("current_since_time") else None
                ),
            )
        )
    return views


async def polled_builds(client: Client, task_queue: str, within: timedelta = POLLING_WITHIN) -> set[str]:
    """The builds of this deployment whose workers polled `task_queue` within `within`; the server
    remembers a stopped worker's last poll for a few minutes."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    response = await _patiently(lambda: client.workflow_service.describe_task_queue(request))
    since = datetime.now(UTC) - within
    return {
        p.deployment_options.build_id
        for p in response.pollers
        if p.deployment_options.deployment_name == DEPLOYMENT_NAME and _instant(p.last_access_time) >= since
    }


async def _describe(client: Client) -> DescribeWorkerDeploymentResponse | None:
    try:
        request = DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=DEPLOYMENT_NAME)
        return await _patiently(lambda: client.workflow_service.describe_worker_deployment(request))
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def _describe_version(client: Client, build: str) -> None:
    request = DescribeWorkerDeploymentVersionRequest(
        namespace=client.namespace,
        deployment_version=VersionRef(deployment_name=DEPLOYMENT_NAME, build_id=build),
    )
    await _patiently(lambda: client.workflow_service.describe_worker_deployment_version(request))


async def _patiently(call: Callable[[], Awaitable[T]]) -> T:
    """The call, asked again while the server says the deployment is busy.

    A deployment takes one change at a time, and its workers register as they first poll:
    replicas, a setup job or `up` asking in the same moment are told to come back, not refused.
    """
    deadline = time.monotonic() + BUSY_FOR.total_seconds()
    pause = 0.2
    while True:
        try:
            return await call()
        except RPCError as err:
            if err.status != RPCStatusCode.RESOURCE_EXHAUSTED or time.monotonic() > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 2.0)


def _instant(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _status_name(status: int) -> str:
    name = WorkerDeploymentVersionStatus.Name(status)  # type: ignore[arg-type]
    return name.removeprefix("WORKER_DEPLOYMENT_VERSION_STATUS_").lower()


def _drainage_name(status: int) -> str:
    if status == VersionDrainageStatus.VERSION_DRAINAGE_STATUS_UNSPECIFIED:
        return ""
    name = VersionDrainageStatus.Name(status)  # type: ignore[arg-type]
    return name.removeprefix("VERSION_DRAINAGE_STATUS_").lower()
