"""Simulated customers and agents: the same lifecycle against the real case or the no-op baseline.

A lifecycle is open → acknowledge → propose_resolution (an explanation, or a 100 CNY refund, below
the 500 CNY approval threshold) → confirm → rate 5 → follow_up_result when the case is in the
follow-up sample → closed. Opening and acknowledging go in one request (update-with-start) when
the client offers it and `OPEN_MODE` says so, else as a start and an update. A refund is executed
after the proposal returns, so the customer polls the `state` query until the case awaits
confirmation; the baseline is polled the same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from bench.baseline import NoopCase
from bench.plan import NoopCaseInput, NoopReply, NoopState, Plan
from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine
from cases.ids import workflow_id_for
from cases.models import CaseIntake, CaseState
from cases.policy.snapshot import Policy, load_policy
from cases.receipt import CaseReceipt
from starter.client import CaseClient
from starter.start_input import start_options

VARIANTS = ("explanation", "refund")
POLL_S = 0.02
WITH_START = "update-with-start"
OPEN_MODES = (WITH_START, "start")
# The process-wide choice of `--open`: a start and an update are the fallback for a client
# without update-with-start.
OPEN_MODE = WITH_START if hasattr(CaseClient, "open_and_act") else "start"
_POLICY: list[Policy] = []


def opening(data: CaseIntake, policy: Policy | None = None) -> CaseState:
    """The state a case opens in, as the client works it out for the attributes at start."""
    if policy is None:
        if not _POLICY:
            _POLICY.append(load_policy(None))
        policy = _POLICY[0]
    assert data.case_id is not None
    at = now()
    return CaseMachine.open(data.case_id, data, policy.snapshot(at), at).state


def variant_for(index: int) -> str:
    return VARIANTS[index % len(VARIANTS)]


def intake(case_id: str, order_id: str = "8812") -> CaseIntake:
    return CaseIntake.model_validate(
        {
            "case_id": case_id,
            "order_id": order_id,
            "customer": {
                "id": f"cust-{case_id[-4:]}",
                "name": "Li Wei",
                "phone": "+8613800000000",
                "email": "li@example.com",
            },
            "channel": "app",
            "category": "description_mismatch",
            "description": "The colour differs from the listing.",
            "order_amount": "299.00",
        }
    )


def proposal(variant: str) -> dict[str, Any]:
    if variant == "refund":
        return {"actor": "agent-1", "type": "refund", "amount": "100", "note": "partial refund"}
    return {"actor": "agent-1", "type": "explanation", "note": "colour is within tolerance"}


@dataclass
class Step:
    ready: bool = True  # the next action (confirm) is possible
    follow_up: bool = False  # the case waits for a follow-up result


class Target(Protocol):
    kind: str

    def workflow_id(self, case_id: str) -> str: ...
    async def open(self, case_id: str, index: int) -> None: ...
    async def open_and_act(self, case_id: str, index: int, action: str, data: dict[str, Any]) -> Step: ...
    async def act(self, case_id: str, action: str, data: dict[str, Any]) -> Step: ...
    async def poll(self, case_id: str) -> Step: ...
    async def result(self, case_id: str) -> str: ...


class RealTarget:
    kind = "real"

    def __init__(self, client: Client, task_queue: str, policy: Policy) -> None:
        self.cases = CaseClient(client, task_queue, policy)

    def workflow_id(self, case_id: str) -> str:
        return workflow_id_for(case_id)

    async def open(self, case_id: str, index: int) -> None:
        await self.cases.open(intake(case_id))

    async def open_and_act(self, case_id: str, index: int, action: str, data: dict[str, Any]) -> Step:
        if OPEN_MODE != WITH_START:
            await self.open(case_id, index)
            return await self.act(case_id, action, data)
        return _step(await self.cases.open_and_act(intake(case_id), action, data))

    async def act(self, case_id: str, action: str, data: dict[str, Any]) -> Step:
        return _step(await self.cases.act(case_id, action, data))

    async def poll(self, case_id: str) -> Step:
        state = await self.cases.state(case_id)
        return Step(ready=state.status.value != "resolving")

    async def result(self, case_id: str) -> str:
        return (await self.cases.handle(case_id).result()).status.value


def _step(receipt: CaseReceipt) -> Step:
    status = receipt.status.value
    return Step(ready=status != "resolving", follow_up=status == "follow_up")


class BaselineTarget:
    """The no-op workflow, started with the same start options and driven with the same calls
    (update-with-start when the real case is opened that way)."""

    kind = "baseline"

    def __init__(self, client: Client, task_queue: str, plans: dict[int, Plan]) -> None:
        self.client = client
        self.task_queue = task_queue
        self.plans = plans
        self._phase: dict[str, int] = {}

    def workflow_id(self, case_id: str) -> str:
        return f"noop-{case_id}"

    def handle(self, case_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.workflow_id(case_id))

    async def start(
        self, case_id: str, plan: Plan, first: tuple[str, dict[str, Any]] | None = None
    ) -> NoopReply | None:
        """Start the no-op as the real case is started; with `first`, in one request with it."""
        data = intake(case_id)
        # The real case's start request, to the no-op's id and task queue.
        options = start_options(data, self.task_queue, opening(data)) | {"id": self.workflow_id(case_id)}
        arg = NoopCaseInput(case_id=case_id, plan=plan)
        if first is None:
            await self.client.start_workflow(NoopCase.run, arg, **options)
            return None
        action, body = first
        start = WithStartWorkflowOperation(
            NoopCase.run, arg, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, **options
        )
        reply: NoopReply = await self.client.execute_update_with_start_workflow(
            action,
            ACTION_MODELS[action].model_validate(body),
            start_workflow_operation=start,
            result_type=NoopReply,
        )
        return reply

    async def open(self, case_id: str, index: int) -> None:
        # Nothing to wait for: the baseline has no start-up work before it takes updates.
        await self.start(case_id, self.plans[index])
        self._phase[case_id] = 0

    async def open_and_act(self, case_id: str, index: int, action: str, data: dict[str, Any]) -> Step:
        plan = self.plans[index]
        if plan.start_update != action:
            await self.open(case_id, index)
            return await self.act(case_id, action, data)
        reply = await self.start(case_id, plan, (action, data))
        assert reply is not None
        self._phase[case_id] = reply.phase
        return Step(ready=reply.ready, follow_up=reply.follow_up)

    async def act(self, case_id: str, action: str, data: dict[str, Any]) -> Step:
        model = ACTION_MODELS[action].model_validate(data)
        reply: NoopReply = await self.handle(case_id).execute_update(
            action, model, result_type=NoopReply
        )
        self._phase[case_id] = reply.phase
        return Step(ready=reply.ready, follow_up=reply.follow_up)

    async def poll(self, case_id: str) -> Step:
        state: NoopState = await self.handle(case_id).query(NoopCase.state)
        return Step(ready=state.ready_phase >= self._phase[case_id])

    async def result(self, case_id: str) -> str:
        await self.handle(case_id).result()
        return "closed"


@dataclass
class CaseOutcome:
    index: int
    case_id: str
    variant: str
    follow_up: bool
    status: str
    seconds: float
    polls: int
    updates: int


async def lifecycle(target: Target, case_id: str, index: int) -> CaseOutcome:
    variant = variant_for(index)
    started = time.perf_counter()
    await target.open_and_act(case_id, index, "acknowledge", {"actor": "agent-1"})
    updates = 0
    step = await target.act(case_id, "propose_resolution", proposal(variant))
    updates += 2
    polls = 0
    while not step.ready:
        polls += 1
        await asyncio.sleep(POLL_S)
        step = await target.poll(case_id)
    await target.act(case_id, "confirm", {})
    step = await target.act(case_id, "rate", {"score": 5})
    updates += 2
    if step.follow_up:
        await target.act(case_id, "follow_up_result", {"actor": "agent-1", "outcome": "satisfied"})
        updates += 1
    status = await target.result(case_id)
    return CaseOutcome(
        index,
        case_id,
        variant,
        step.follow_up,
        status,
        time.perf_counter() - started,
        polls,
        updates,
    )


@dataclass
class LoopResult:
    outcomes: list[CaseOutcome]
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.outcomes) / self.seconds if self.seconds > 0 else 0.0


async def closed_loop(target: Target, case_ids: list[str], concurrency: int) -> LoopResult:
    """`concurrency` customers, each taking the next case as soon as the last one closed."""
    pending = iter(enumerate(case_ids))
    outcomes: list[CaseOutcome] = []
    errors: list[str] = []

    async def customer() -> None:
        for index, case_id in pending:
            try:
                outcomes.append(await lifecycle(target, case_id, index))
            except Exception as err:  # a failed case is reported, never silently dropped
                errors.append(f"{case_id}: {type(err).__name__}: {err}")

    started = time.perf_counter()
    await asyncio.gather(*(customer() for _ in range(concurrency)))
    return LoopResult(
        sorted(outcomes, key=lambda o: o.index), time.perf_counter() - started, errors
    )


def now() -> datetime:
    return datetime.now(UTC)
