"""Helpers for the lifecycle tests: a case driver on the time-skipping server, and readers of
the PostgreSQL projection (audit trail, ledgers, notifications).

Every expectation about time is derived from the case's own `opened_at` (or the instant of the
action that restarted a clock), because the time-skipping server's clock starts at the real
"now" and moves forward for the whole session.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.contracts import (
    Cancellation,
    CancellationResult,
    Shipment,
    ShipmentResult,
)
from activities.shipments import ShipmentFailedError
from cases.clocks.calendar import advance
from cases.models import CaseIntake, CaseState, Clock, ClockName, Status
from cases.policy.snapshot import Policy, PolicySnapshot
from starter.client import CaseClient, OpenResult
from tests.conftest import case_worker
from tests.support.clock import skip
from tests.support.eventually import eventually
from workflows.run_input import CaseRun

T = TypeVar("T")

FR = ClockName.FIRST_RESPONSE
IH = ClockName.INITIAL_HANDLING
RES = ClockName.RESOLUTION
CL = ClockName.CLOSURE
AP = ClockName.APPROVAL

HOUR = timedelta(hours=1)
# How long a condition the workflow reaches on its own (after a timer or an activity) may take
# in real time before a test gives up. Polling only: no test waits for an SLA in real time.
SETTLE_SECONDS = 30.0


# ---------------------------------------------------------------------------------------------
# Time


async def now(env: WorkflowEnvironment) -> datetime:
    return await env.get_current_time()


async def advance_to(env: WorkflowEnvironment, at: datetime) -> None:
    """Skip the test server's clock forward to `at` (no-op when it is already past)."""
    current = await env.get_current_time()
    if at > current:
        await skip(env, at - current)


def wall_due(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)


def business_due(snapshot: PolicySnapshot, start: datetime, seconds: float) -> datetime:
    return advance(snapshot.calendar, True, start, seconds)


def working_days(n: float) -> float:
    return n * 9 * 3600.0


# ---------------------------------------------------------------------------------------------
# Case ids and follow-up sampling


def sampled(case_id: str, rate: float = 0.15) -> bool:
    """The policy's deterministic sample, recomputed independently of the engine."""
    bucket = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 10000
    return bucket < round(rate * 10000)


def case_id_with_sample(prefix: str, in_sample: bool) -> str:
    """The first id `prefix-N` (N = 0, 1, ...) that is, or is not, in the follow-up sample."""
    n = 0
    while sampled(f"{prefix}-{n}") != in_sample:
        n += 1
    return f"{prefix}-{n}"


# ---------------------------------------------------------------------------------------------
# The case driver


@dataclass
class Cases:
    env: WorkflowEnvironment
    pool: asyncpg.Pool
    policy: Policy
    client: CaseClient
    opened: list[str] = field(default_factory=list)

    async def open(
        self, intake: CaseIntake, run: CaseRun | None = None
    ) -> tuple[OpenResult, CaseState]:
        result = await self.client.open(intake, run=run)
        self.opened.append(result.case_id)
        return result, await self.client.state(result.case_id)

    async def act(
        self, case_id: str, action: str, data: dict[str, Any] | None = None
    ) -> CaseState:
        """Act, then read the state the action left: the update answers with a receipt only."""
        receipt = await self.client.act(case_id, action, data or {})
        state = await self.client.state(case_id)
        assert receipt.case_id == case_id and state.last_seq >= receipt.last_seq
        return state

    async def state(self, case_id: str) -> CaseState:
        return await self.client.state(case_id)

    async def wait_status(self, case_id: str, status: Status) -> CaseState:
        return await self.wait(case_id, lambda s: s.status == status, str(status))

    async def wait(
        self, case_id: str, ok: Callable[[CaseState], bool], what: str
    ) -> CaseState:
        """The state once `ok` holds and the run is at rest, so that what the workflow did on
        its own (after a timer or an activity) is also in PostgreSQL."""
        await eventually(lambda: self.state(case_id), ok, f"{case_id}: {what}")
        await self.settle(case_id)
        state = await self.state(case_id)
        assert ok(state), f"{case_id}: {what} no longer holds once at rest"
        return state

    async def wait_follow_up_booked(self, case_id: str) -> CaseState:
        return await self.wait(
            case_id,
            lambda s: s.follow_up is not None and s.follow_up.reference is not None,
            "follow-up booked",
        )

    async def result(self, case_id: str) -> CaseState:
        """The state the case ended in (its result is a receipt of it)."""
        receipt = await self.client.handle(case_id).result()
        state = await self.client.state(case_id)
        assert (receipt.last_seq, receipt.status) == (state.last_seq, state.status)
        return state

    def snapshot(self, state: CaseState) -> PolicySnapshot:
        return self.policy.snapshot(state.opened_at)

    async def resolve(
        self, case_id: str, kind: str = "refund", amount: str = "100"
    ) -> CaseState:
        """Acknowledge, propose a remedy that needs no approval, and wait until it is executed."""
        await self.act(case_id, "acknowledge", {"actor": "agent-1"})
        data: dict[str, Any] = {"actor": "agent-1", "type": kind}
        if amount:
            data["amount"] = amount
        await self.act(case_id, "propose_resolution", data)
        return await self.wait_status(case_id, Status.AWAITING_CONFIRMATION)

    async def settle(self, case_id: str, timeout: float = SETTLE_SECONDS) -> None:
        await settle(self.client.client, self.client.handle(case_id).id, timeout)

    async def cleanup(self) -> None:
        # Terminating a run with an activity in flight would hold the test server's clock
        # until that activity times out, so let each run come to rest first.
        for case_id in self.opened:
            workflow_id = self.client.handle(case_id).id
            status, _ = await execution(self.client.client, workflow_id)
            if status != WorkflowExecutionStatus.RUNNING:
                continue
            try:
                await settle(self.client.client, workflow_id)
            finally:
                await self.client.handle(case_id).terminate(reason="test finished")


@asynccontextmanager
async def running_cases(
    env: WorkflowEnvironment, pool: asyncpg.Pool, policy: Policy, **providers: Any
) -> AsyncIterator[Cases]:
    """A worker on a fresh task queue and a driver for it. Cases still running at the end are
    terminated, so their timers never fire into later tests."""
    async with case_worker(env.client, pool, policy, **providers) as task_queue:
        cases = Cases(env, pool, policy, CaseClient(env.client, task_queue))
        try:
            yield cases
        finally:
            await cases.cleanup()


# ---------------------------------------------------------------------------------------------
# Workflow executions


async def execution(
    client: Client, workflow_id: str
) -> tuple[WorkflowExecutionStatus, str]:
    """Status and run id of the latest run, read without decoding search attributes (the
    time-skipping server keeps an unset Datetime attribute as null, which `describe()` cannot
    decode)."""
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
        )
    )
    info = response.workflow_execution_info
    return WorkflowExecutionStatus(info.status), info.execution.run_id


_RUN_CLOSED = {
    "workflow_execution_completed_event_attributes",
    "workflow_execution_failed_event_attributes",
    "workflow_execution_timed_out_event_attributes",
    "workflow_execution_canceled_event_attributes",
    "workflow_execution_terminated_event_attributes",
    "workflow_execution_continued_as_new_event_attributes",
}
_ACTIVITY_CLOSED = {
    "activity_task_completed_event_attributes",
    "activity_task_failed_event_attributes",
    "activity_task_timed_out_event_attributes",
    "activity_task_canceled_event_attributes",
}
_TASK_OPEN = {
    "workflow_task_scheduled_event_attributes",
    "workflow_task_started_event_attributes",
}
_TASK_CLOSED = {
    "workflow_task_completed_event_attributes",
    "workflow_task_failed_event_attributes",
    "workflow_task_timed_out_event_attributes",
}


def at_rest(events: list[Any]) -> bool:
    """True when a run has no workflow task and no activity in flight (or has ended)."""
    pending: set[int] = set()
    task_open = False
    for event in events:
        kind = event.WhichOneof("attributes")
        if kind in _RUN_CLOSED:
            return True
        if kind == "activity_task_scheduled_event_attributes":
            pending.add(event.event_id)
        elif kind in _ACTIVITY_CLOSED:
            pending.discard(getattr(event, kind).scheduled_event_id)
        elif kind in _TASK_OPEN:
            task_open = True
        elif kind in _TASK_CLOSED:
            task_open = False
    return bool(events) and not task_open and not pending


async def settle(
    client: Client, workflow_id: str, timeout: float = SETTLE_SECONDS
) -> None:
    """Wait until the latest run of `workflow_id` is at rest (see `at_rest`)."""
    handle = client.get_workflow_handle(workflow_id)

    async def history() -> list[Any]:
        return [e async for e in handle.fetch_history_events()]

    await eventually(history, at_rest, f"{workflow_id} at rest", timeout)


# ---------------------------------------------------------------------------------------------
# The PostgreSQL projection


async def audit_trail(pool: asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT seq, type, actor, at, data FROM case_events WHERE case_id = $1 ORDER BY seq",
        case_id,
    )


def event_key(row: Any) -> tuple[str, str | None]:
    """An audit event as (type, detail): the clock, notification kind or outcome it concerns."""
    import json

    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    detail = data.get("clock") or data.get("kind")
    return row["type"], detail


async def assert_gapless_trail(
    pool: asyncpg.Pool, state: CaseState
) -> list[tuple[str, str | None]]:
    rows = await audit_trail(pool, state.case_id)
    assert [r["seq"] for r in rows] == list(range(1, state.last_seq + 1))
    return [event_key(r) for r in rows]


async def case_row(pool: asyncpg.Pool, case_id: str) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM cases WHERE case_id = $1", case_id)
    assert row is not None, f"no cases row for {case_id}"
    return row


async def refund_rows(pool: asyncpg.Pool, case_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT key, reference, kind, amount, currency, status, order_id, reversal_key"
        " FROM refunds WHERE case_id = $1 ORDER BY key",
        case_id,
    )


async def notification_rows(
    pool: asyncpg.Pool,
    case_id: str,
    *,
    audience: str | None = None,
    kind: str | None = None,
) -> list[asyncpg.Record]:
    """One row per notification (the first channel), in the order they were queued."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (key) key, kind, audience, recipient, subject, data"
        " FROM notifications WHERE case_id = $1"
        " AND ($2::text IS NULL OR audience = $2) AND ($3::text IS NULL OR kind = $3)"
        " ORDER BY key",
        case_id,
        audience,
        kind,
    )
    # Keys are "{case}:{seq}:{kind}"; order by the audit sequence number.
    return sorted(rows, key=lambda r: int(r["key"].split(":")[-2]))


async def wait_notifications(
    pool: asyncpg.Pool, case_id: str, count: int, *, audience: str, kind: str
) -> list[asyncpg.Record]:
    return await eventually(
        lambda: notification_rows(pool, case_id, audience=audience, kind=kind),
        lambda rows: len(rows) >= count,
        f"{count} {audience} {kind} notification(s) for {case_id}",
    )


# ---------------------------------------------------------------------------------------------
# Clock assertions


def assert_clock_schedule(clock: Clock, due: datetime, warn: datetime) -> None:
    assert clock.due_at == due, f"{clock.name} due {clock.due_at}, expected {due}"
    assert clock.warn_at == warn, (
        f"{clock.name} warning {clock.warn_at}, expected {warn}"
    )


def assert_warned(clock: Clock, warn: datetime) -> None:
    assert clock.warned_at == warn
    assert clock.breached_at is None


def assert_breached(clock: Clock, due: datetime) -> None:
    assert clock.state.value == "breached"
    assert clock.breached_at == due
    assert clock.breach_detected_at is not None
    lag = clock.breach_detected_at - clock.breached_at
    assert timedelta(0) <= lag < timedelta(seconds=1), (
        f"{clock.name} detected {lag} late"
    )


# ---------------------------------------------------------------------------------------------
# Providers


class FailingWarehouse:
    """A warehouse that can never ship a replacement."""

    def __init__(self) -> None:
        self.attempts: list[Shipment] = []
        self.cancelled: list[Cancellation] = []

    async def ship(self, shipment: Shipment) -> ShipmentResult:
        self.attempts.append(shipment)
        raise ShipmentFailedError("replacement out of stock")

    async def cancel(self, cancellation: Cancellation) -> CancellationResult:
        self.cancelled.append(cancellation)
        return CancellationResult(
            key=cancellation.key, reference=cancellation.reference, cancelled=True
        )
