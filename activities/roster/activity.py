"""Roster: the routing activities, thin methods over whichever roster they are given.

They run as local activities inside the workflow task that needs them: placing a case at
registration costs one marker in its history instead of an activity's three events, and every
call is idempotent, so a task retried after a crash asks again and gets the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog
from temporalio import activity

from cases.routing.models import (
    PlaceRequest,
    ReleaseRequest,
    RoutingChange,
    RoutingResult,
    RoutingStatus,
    TakeRequest,
)

log = structlog.get_logger("aftersales.roster")


class RosterProvider(Protocol):
    async def place(self, request: PlaceRequest) -> RoutingResult: ...

    async def take(self, request: TakeRequest) -> RoutingResult: ...

    async def release(self, request: ReleaseRequest) -> RoutingResult: ...


@dataclass
class NoRoster:
    """A roster with no teams, for workflow tests without PostgreSQL: every case is unrouted and
    is assigned by hand, as before routing existed."""

    async def place(self, request: PlaceRequest) -> RoutingResult:
        return _unrouted(request.case_id, request.workflow_id, request)

    async def take(self, request: TakeRequest) -> RoutingResult:
        return _unrouted(request.case_id, request.workflow_id, request)

    async def release(self, request: ReleaseRequest) -> RoutingResult:
        return _unrouted(request.case_id, "", request)


def _unrouted(case_id: str, workflow_id: str, request: PlaceRequest | TakeRequest | ReleaseRequest) -> RoutingResult:
    return RoutingResult(
        change=RoutingChange(
            case_id=case_id, workflow_id=workflow_id, seq=0, status=RoutingStatus.UNROUTED, at=request.at
        )
    )


class Roster:
    def __init__(self, provider: RosterProvider) -> None:
        self._provider = provider

    @activity.defn(name="route_place")
    async def place(self, request: PlaceRequest) -> RoutingResult:
        result = await self._provider.place(request)
        _log("placed", result)
        return result

    @activity.defn(name="route_take")
    async def take(self, request: TakeRequest) -> RoutingResult:
        result = await self._provider.take(request)
        _log("taken", result)
        return result

    @activity.defn(name="route_release")
    async def release(self, request: ReleaseRequest) -> RoutingResult:
        result = await self._provider.release(request)
        _log("released", result)
        return result


def _log(what: str, result: RoutingResult) -> None:
    change = result.change
    log.info(
        f"case {what}",
        routing=change.status.value,
        team=change.team,
        agent=change.agent,
        seq=change.seq,
        drained=len(result.drained),
    )
