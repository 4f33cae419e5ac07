"""The roster calls the workflow makes: place the case, record who took it, give its seat back.

Each is a local activity over PostgreSQL and idempotent (the roster finds its own earlier answer),
as the record is, and becomes an ordinary activity if the database is out for long. The cases the
call assigned from the queue are told with a signal each, sent as workflow commands, so a crash
after the roster committed still tells them once the task is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.roster.activity import Roster
    from cases.core.machine import CaseMachine
    from cases.routing import placement
    from cases.routing.models import (
        PlaceRequest,
        ReleaseRequest,
        RoutingChange,
        RoutingOp,
        RoutingResult,
        TakeRequest,
    )
    from workflows import store_calls

ROUTED_SIGNAL = "routed"


def hear(machine: CaseMachine | None, waiting: list[RoutingChange], change: RoutingChange | None = None) -> bool:
    """Apply the roster's notices to the case; True when some were applied.

    A retried first task can deliver a notice before the case exists (its signal comes in the
    same activation as the start): it waits in `waiting` until the case's first record
    (`hear_after_record`).
    """
    if change is not None:
        waiting.append(change)
    if machine is None or not waiting:
        return False
    for notice in waiting:
        if not machine.routing_notice(notice, workflow.now()):
            workflow.logger.warning("routing notice refused: it cannot be the roster's word on this case")
    waiting.clear()
    return True


def hear_after_record(machine: CaseMachine, waiting: list[RoutingChange], recorded_seq: int) -> bool:
    """Apply waiting notices once the case's first events are in the record; True if any were.

    Not before: a first task retried after its record was written would otherwise decide with a
    notice the first attempt never saw, so its events would differ from the rows already written
    under the same numbers, and the record would keep the first attempt's (a queued case the
    roster had assigned)."""
    return recorded_seq > 0 and hear(machine, waiting)


async def step(machine: CaseMachine, tells: list[asyncio.Task[None]]) -> None:
    """One roster call. The notices to other cases go on in the background (each waits for its
    own task), so an update that led to this call is still answered in the task that took it."""
    op = placement.pending(machine.state)
    assert op is not None
    request = placement.request(machine, workflow.now())
    result = await _call(op, request)
    machine.routing_settled(op, result.change, workflow.now(), getattr(request, "agent", None))
    tells.extend(asyncio.create_task(_tell(change)) for change in result.drained)


async def finish(tells: list[asyncio.Task[None]]) -> None:
    """Before the run ends (the loop gave the seat back first): let every notice reach its case."""
    await asyncio.gather(*tells)
    tells.clear()


async def _call(op: RoutingOp, request: PlaceRequest | TakeRequest | ReleaseRequest) -> RoutingResult:
    methods: dict[RoutingOp, Callable[[Roster, Any], Awaitable[RoutingResult]]] = {
        RoutingOp.PLACE: Roster.place, RoutingOp.TAKE: Roster.take, RoutingOp.RELEASE: Roster.release
    }
    return await store_calls.local_first(methods[op], request, f"roster: {op.value}")


async def _tell(change: RoutingChange) -> None:
    try:
        await workflow.get_external_workflow_handle(change.workflow_id).signal(ROUTED_SIGNAL, change)
    except Exception as err:  # noqa: BLE001 - a case that ended meanwhile gave its seat back itself
        workflow.logger.info("routing notice not delivered: %s", type(err).__name__)
