"""Simulated customers and agents: the same lifecycle against the real case or the no-op baseline.

A lifecycle is open → acknowledge → propose_resolution (an explanation, or a 100 CNY refund, below
the 500 CNY approval threshold) → confirm → rate 5 → follow_up_result when the case is in the
follow-up sample → closed. A refund is executed after the proposal returns, so the customer
polls the `state` query until the case awaits confirmation; the baseline is polled the same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)

from bench.baseline import NoopCase
from bench.plan import NoopCaseInput, NoopReply, NoopState, Plan
from cases.actions import ACTION_MODELS
from cases.ids import workflow_id_for
from cases.models import CaseIntake
from cases.policy import Policy
from starter.client import CaseClient
from workflows import search_attributes as sa

VARIANTS = ("explanation", "refund")
POLL_S = 0.02


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

    async def act(self, case_id: str, action: str, data: dict[str, Any]) -> Step:
        state = await self.cases.act(case_id, action, data)
        status = state.status.value
        return Step(ready=status != "resolving", follow_up=status == "follow_up")

    async def poll(self, case_id: str) -> Step:
        state = await self.cases.state(case_id)
        return Step(ready=state.status.value != "resolving")

    async def result(self, case_id: str) -> str:
        return (await self.cases.handle(case_id).result()).status.value


class BaselineTarget:
    """The no-op workflow, started with the same start options and driven with the same calls."""

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

    async def start(self, case_id: str, plan: Plan) -> None:
        data = intake(case_id)
        await self.client.start_workflow(
            NoopCase.run,
            NoopCaseInput(case_id=case_id, plan=plan),
            id=self.workflow_id(case_id),
            task_queue=self.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.CASE_STATUS, "registered"),
                    SearchAttributePair(sa.CASE_CATEGORY, data.category.value),
                    SearchAttributePair(sa.CUSTOMER_TIER, data.customer.tier.value),
                    SearchAttributePair(sa.ORDER_ID, data.order_id),
                ]
            ),
            static_summary=f"general · {data.category.value} · order {data.order_id}",
            static_details=f"**Customer** {data.customer.id} · {data.description}",
        )

    async def open(self, case_id: str, index: int) -> None:
        await self.start(case_id, self.plans[index])
        self._phase[case_id] = 0
        delay = 0.05
        while True:
            try:
                await self.handle(case_id).query(NoopCase.state)
                return
            except WorkflowQueryFailedError as err:
                if "still starting" not in str(err.message):
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

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
    await target.open(case_id, index)
    updates = 0
    await target.act(case_id, "acknowledge", {"actor": "agent-1"})
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
