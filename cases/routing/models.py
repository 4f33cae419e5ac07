"""Routing of a case to a team and an agent: the case's side (`Routing`) and the roster's answers.

The roster lives in PostgreSQL and decides; the case mirrors what it was told. Every answer
carries the roster's per-case sequence number, so an answer that arrives late (a signal from
another case's release, overtaken by the case's own placement) never undoes a newer one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class RoutingStatus(StrEnum):
    PENDING = "pending"  # not yet placed
    UNROUTED = "unrouted"  # no team of the roster takes it: assigned by hand, as before
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RELEASED = "released"


class RoutingOp(StrEnum):
    """What the workflow must ask the roster next."""

    PLACE = "place"  # find the case an agent, or queue it
    TAKE = "take"  # a person took the case (assign, or acknowledge while queued)
    RELEASE = "release"  # the case no longer holds a seat


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class Requirement(BaseModel):
    """What an agent must be able to handle to take the case."""

    category: str
    tier: str
    language: str
    vip: bool = False


class Routing(BaseModel):
    status: RoutingStatus = RoutingStatus.PENDING
    op: RoutingOp | None = RoutingOp.PLACE
    team: str | None = None
    lead: str | None = None
    seq: int = 0
    take_agent: str | None = None
    # Agents who let the acceptance window pass: never offered the case again.
    excluded: list[str] = []
    queued_at: datetime | None = None
    queue_seconds: float = 0.0
    first_assigned_at: datetime | None = None
    assigned_at: datetime | None = None
    accept_by: datetime | None = None
    recheck_at: datetime | None = None
    bypasses: int = 0
    # Requests asked of the roster so far: each request's idempotency key is the next number.
    asked: int = 0


class PlaceRequest(BaseModel):
    # The same key always gets the same answer: a workflow task retried after the roster
    # committed must decide exactly as the first attempt did.
    key: str = ""
    case_id: str
    workflow_id: str
    team: str
    requirement: Requirement
    priority: int
    excluded: list[str] = []
    at: datetime


class TakeRequest(BaseModel):
    # The same key always gets the same answer: a workflow task retried after the roster
    # committed must decide exactly as the first attempt did.
    key: str = ""
    case_id: str
    workflow_id: str
    agent: str
    team: str | None = None
    requirement: Requirement
    priority: int
    at: datetime


class ReleaseRequest(BaseModel):
    # The same key always gets the same answer: a workflow task retried after the roster
    # committed must decide exactly as the first attempt did.
    key: str = ""
    case_id: str
    at: datetime


class RoutingChange(BaseModel):
    """The roster's word on one case: where it is now, as of `seq`."""

    case_id: str
    workflow_id: str
    seq: int
    status: RoutingStatus
    team: str | None = None
    agent: str | None = None
    lead: str | None = None
    at: datetime
    # When a queued case should ask again: its team's next shift start, if it is off shift now.
    next_check_at: datetime | None = None


class RoutingResult(BaseModel):
    change: RoutingChange
    # Other cases this call assigned from the queue; the workflow tells each of them.
    drained: list[RoutingChange] = []
