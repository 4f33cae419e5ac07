"""The business-minimal no-op baselines: what a case's business needs of Temporal, and nothing else.

`NoopCase` follows a `Plan` read from a real case's history: the same start (with the same update
when the real case is opened with update-with-start), the same updates, the same money, shipment
and visit activities (under the real activity types, answered by one activity that does nothing)
and one SLA timer, set again only in the phases where the real case's next deadline changed. An
update answers as soon as its business step is done, in the same workflow task when it needs no
activity. No bookkeeping activities, local activities, search-attribute upserts or details.
`NoopTimer` is the breach baseline: one timer to the due instant, and it reports when it woke.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from bench.plan import (
        NoopCaseInput,
        NoopReply,
        NoopResult,
        NoopState,
        NoopTimerInput,
        NoopTimerReply,
        Phase,
    )

_TIMEOUT = timedelta(seconds=15)
_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=0)

# Counted in the worker process (activities run outside the sandbox), reported in its status.
CALLS = {"activities": 0}


@activity.defn(dynamic=True)
async def noop(args: Sequence[RawValue]) -> NoopResult:
    CALLS["activities"] += 1
    return NoopResult(at=time.time())


ACTIVITIES = [noop]


@dataclass
class _Ticket:
    phase: int
    completed: bool = False


@workflow.defn(name="BenchNoopCase")
class NoopCase:
    @workflow.init
    def __init__(self, data: NoopCaseInput) -> None:
        self._plan = data.plan
        self._queue: list[_Ticket] = []
        self._start = _Ticket(0)
        # With update-with-start, the start's own update answers for phase 0.
        self._start_answered = data.plan.start_update is None
        self._next_phase = 1
        self._phase = 0
        self._ready_phase = -1
        self._timer: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, data: NoopCaseInput) -> NoopReply:
        final = await self._run_phase(0, self._start)
        while not final:
            await workflow.wait_condition(lambda: bool(self._queue))
            ticket = self._queue.pop(0)
            final = await self._run_phase(ticket.phase, ticket)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return NoopReply(phase=self._phase, ready=True)

    async def _run_phase(self, index: int, ticket: _Ticket | None) -> bool:
        phase: Phase = self._plan.phases[index]
        self._phase = index
        for number, batch in enumerate(phase.batches):
            self._mark(phase, ticket, number)
            await asyncio.gather(*(self._call(name) for name in batch))
        self._mark(phase, ticket, len(phase.batches))
        self._ready_phase = index
        for seconds in phase.timers:
            if seconds > 0:
                self._arm(seconds)
        return phase.final

    def _mark(self, phase: Phase, ticket: _Ticket | None, done: int) -> None:
        if ticket is not None and done >= phase.complete_after:
            ticket.completed = True

    def _arm(self, seconds: float) -> None:
        """One timer for the next deadline: a new deadline replaces the old timer."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = asyncio.create_task(asyncio.sleep(seconds))

    async def _call(self, name: str) -> None:
        await workflow.execute_activity(
            name,
            result_type=NoopResult,
            start_to_close_timeout=_TIMEOUT,
            retry_policy=_RETRY,
        )

    async def _wait(self, ticket: _Ticket) -> NoopReply:
        await workflow.wait_condition(lambda: ticket.completed)
        following = self._plan.phases[ticket.phase + 1 :]
        return NoopReply(
            phase=ticket.phase,
            ready=self._ready_phase >= ticket.phase,
            follow_up=bool(following) and following[0].update == "follow_up_result",
        )

    @workflow.query
    def state(self) -> NoopState:
        return NoopState(phase=self._phase, ready_phase=self._ready_phase)

    # Whatever the real case's updates are called, each one is the next phase of the plan.
    @workflow.update(dynamic=True)
    async def act(self, name: str, args: Sequence[RawValue]) -> NoopReply:
        if not self._start_answered and name == self._plan.start_update:
            self._start_answered = True
            return await self._wait(self._start)
        ticket = _Ticket(phase=self._next_phase)
        self._next_phase += 1
        if ticket.phase >= len(self._plan.phases):
            raise ApplicationError("no more actions in the plan", type="InvalidAction")
        self._queue.append(ticket)
        return await self._wait(ticket)


@workflow.defn(name="BenchNoopTimer")
class NoopTimer:
    """One clock: start, sleep to the due instant, wake. Its breach latency is the wake."""

    @workflow.run
    async def run(self, data: NoopTimerInput) -> NoopTimerReply:
        due = workflow.now() + timedelta(seconds=data.target_seconds)
        await asyncio.sleep(data.target_seconds)
        return NoopTimerReply(due=due.timestamp(), woke=workflow.now().timestamp())
