"""The no-op baselines: workflows with a case's orchestration shape and none of its work.

`NoopCase` follows a `Plan` read from a real case's history: the same local activity at start, the
same activity batches per phase (activities that return at once and write nothing), the same
updates (each returns after as many batches as the real one), the same search-attribute upserts,
and the same main loop that sleeps on a timer whenever nothing is pending. Its `ping` update
returns at once (the update-latency baseline). `NoopTimer` sleeps to an SLA warning and due time
like a case with a short target and reports when its "record" activity ran (the breach baseline).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from bench.plan import (
        LOCAL,
        NoopCall,
        NoopCaseInput,
        NoopReply,
        NoopResult,
        NoopState,
        NoopTimerInput,
        NoopTimerReply,
        Phase,
    )
    from cases.models import (
        Acknowledge,
        Confirm,
        FollowUpResult,
        ProposeResolution,
        Rate,
    )

NOOP_ACTIVITY = "bench_noop"
NOOP_LOCAL_ACTIVITY = "bench_noop_local"
_PHASE_KEY = SearchAttributeKey.for_keyword("CaseStatus")
_TIMEOUT = timedelta(seconds=15)
_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=0)
_IDLE = timedelta(hours=20)

# Counted in the worker process (activities run outside the sandbox), reported in its status.
CALLS = {"activities": 0}


@activity.defn(name=NOOP_ACTIVITY)
async def noop(call: NoopCall) -> NoopResult:
    CALLS["activities"] += 1
    return NoopResult(at=time.time())


@activity.defn(name=NOOP_LOCAL_ACTIVITY)
async def noop_local(call: NoopCall) -> NoopResult:
    return NoopResult(at=time.time())


ACTIVITIES = [noop, noop_local]


@dataclass
class _Ticket:
    phase: int
    completed: bool = False


@workflow.defn(name="BenchNoopCase")
class NoopCase:
    @workflow.init
    def __init__(self, data: NoopCaseInput) -> None:
        self._plan = data.plan
        self._started = False
        self._queue: list[_Ticket] = []
        self._next_phase = 1
        self._phase = 0
        self._ready_phase = -1
        self._seq = 0

    @workflow.run
    async def run(self, data: NoopCaseInput) -> NoopReply:
        final = await self._run_phase(0, None)
        while not final:
            if self._queue:
                ticket = self._queue.pop(0)
                final = await self._run_phase(ticket.phase, ticket)
                continue
            try:
                await workflow.wait_condition(lambda: bool(self._queue), timeout=_IDLE)
            except TimeoutError:
                pass
        await workflow.wait_condition(workflow.all_handlers_finished)
        return NoopReply(phase=self._phase, ready=True)

    async def _run_phase(self, index: int, ticket: _Ticket | None) -> bool:
        phase: Phase = self._plan.phases[index]
        self._phase = index
        for number, batch in enumerate(phase.batches):
            self._mark(index, phase, ticket, number)
            if batch and batch[0].startswith(LOCAL):
                await self._local(batch[0])
            else:
                await asyncio.gather(*(self._call(kind) for kind in batch))
            if index == 0 and number == 0:
                self._started = True  # the real case answers queries once its policy is loaded
        self._mark(index, phase, ticket, len(phase.batches))
        self._started = True
        for _ in range(phase.upserts):
            workflow.upsert_search_attributes([_PHASE_KEY.value_set(f"phase-{index}")])
        workflow.set_current_details(f"phase {index}")
        return phase.final

    def _mark(self, index: int, phase: Phase, ticket: _Ticket | None, done: int) -> None:
        if ticket is not None and done >= phase.complete_after:
            ticket.completed = True
        if done >= phase.ready_after:
            self._ready_phase = max(self._ready_phase, index)

    async def _local(self, kind: str) -> None:
        self._seq += 1
        await workflow.execute_local_activity(
            NOOP_LOCAL_ACTIVITY,
            NoopCall(kind=kind, seq=self._seq),
            result_type=NoopResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )

    async def _call(self, kind: str) -> None:
        self._seq += 1
        await workflow.execute_activity(
            NOOP_ACTIVITY,
            NoopCall(kind=kind, seq=self._seq),
            result_type=NoopResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )

    async def _act(self) -> NoopReply:
        await workflow.wait_condition(lambda: self._started)
        ticket = _Ticket(phase=self._next_phase)
        self._next_phase += 1
        if ticket.phase >= len(self._plan.phases):
            raise ApplicationError("no more actions in the plan", type="InvalidAction")
        self._queue.append(ticket)
        await workflow.wait_condition(lambda: ticket.completed)
        following = self._plan.phases[ticket.phase + 1 :]
        return NoopReply(
            phase=ticket.phase,
            ready=self._ready_phase >= ticket.phase,
            follow_up=bool(following) and following[0].update == "follow_up_result",
        )

    @workflow.query
    def state(self) -> NoopState:
        if not self._started:
            raise ApplicationError("the case is still starting; try again", type="CaseStarting")
        return NoopState(phase=self._phase, ready_phase=self._ready_phase)

    @workflow.update
    async def ping(self) -> None:
        return None

    @workflow.update
    async def acknowledge(self, data: Acknowledge) -> NoopReply:
        return await self._act()

    @workflow.update
    async def propose_resolution(self, data: ProposeResolution) -> NoopReply:
        return await self._act()

    @workflow.update
    async def confirm(self, data: Confirm) -> NoopReply:
        return await self._act()

    @workflow.update
    async def rate(self, data: Rate) -> NoopReply:
        return await self._act()

    @workflow.update
    async def follow_up_result(self, data: FollowUpResult) -> NoopReply:
        return await self._act()


@workflow.defn(name="BenchNoopTimer")
class NoopTimer:
    """A case with one short clock: record and notify at open, warn, then record the breach."""

    @workflow.run
    async def run(self, data: NoopTimerInput) -> NoopTimerReply:
        opened = workflow.now()
        await workflow.execute_local_activity(
            NOOP_LOCAL_ACTIVITY, NoopCall(kind="local"), start_to_close_timeout=_TIMEOUT
        )
        for kind in ("record", "notify"):
            await self._call(kind)
        warn = opened + timedelta(seconds=data.target_seconds * data.warning_fraction)
        due = opened + timedelta(seconds=data.target_seconds)
        await self._sleep_until(warn)
        for kind in ("record", "notify"):
            await self._call(kind)
        await self._sleep_until(due)
        recorded = await self._call("record")
        return NoopTimerReply(due=due.timestamp(), recorded=recorded.at)

    async def _sleep_until(self, at: object) -> None:
        delay = at - workflow.now()  # type: ignore[operator]
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(lambda: False, timeout=delay)
            except TimeoutError:
                pass

    async def _call(self, kind: str) -> NoopResult:
        return await workflow.execute_activity(
            NOOP_ACTIVITY,
            NoopCall(kind=kind),
            result_type=NoopResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )
