"""The case's side of dispatch (STANDARDS S12.3): what to ask the roster, and what its answers do.

The roster decides who takes a case; the machine records what it was told, starts the
acceptance window of an assigned agent, passes over an agent who lets it lapse, asks again when a
queued team's shift starts, and gives the seat back when the case ends or changes hands.
"""

from __future__ import annotations

from datetime import datetime

from cases.core.effects import Audience, NotificationChannel
from cases.core.moves import CaseCore, due, iso
from cases.intake.text_signals import detect_language
from cases.models import FINAL_STATUSES, CaseIntake, CaseState, Status, Tier
from cases.policy.snapshot import PolicySnapshot
from cases.routing.models import (
    PlaceRequest,
    ReleaseRequest,
    Requirement,
    Routing,
    RoutingChange,
    RoutingOp,
    RoutingStatus,
    TakeRequest,
)

HOLDING = frozenset({RoutingStatus.QUEUED, RoutingStatus.ASSIGNED})


def team_for(policy: PolicySnapshot, intake: CaseIntake, tier: Tier) -> str:
    """The team the policy's routing rules send a case to."""
    return policy.intake.team_for(intake.category, tier, intake.customer.tier, intake.flags.model_dump())


def reroute(m: CaseCore) -> None:
    """After a reclassification: a case its rules now send to another team moves there."""
    state = m.state
    routing = state.routing
    if state.status in FINAL_STATUSES:
        return
    team = team_for(m.policy, state.intake, state.tier)
    if team != routing.team:
        routing.team = state.team = team
        if routing.op is None or routing.op == RoutingOp.PLACE:
            routing.op = RoutingOp.PLACE


def requirement(state: CaseState) -> Requirement:
    return Requirement(
        category=state.category.value,
        tier=state.tier.value,
        language=detect_language(state.intake.description),
        vip=state.intake.customer.tier.value == "vip",
    )


def priority(m: CaseCore) -> int:
    return m.policy.intake.priority(m.state.tier, m.state.intake.customer.tier)


def pending(state: CaseState) -> RoutingOp | None:
    routing = state.routing
    if state.status in FINAL_STATUSES:
        # An ended case asks only to give its seat back (or to leave the queue).
        return RoutingOp.RELEASE if routing.status in HOLDING or routing.op == RoutingOp.RELEASE else None
    return routing.op


def request(m: CaseCore, now: datetime) -> PlaceRequest | TakeRequest | ReleaseRequest:
    state = m.state
    routing = state.routing
    op = pending(state)
    routing.asked += 1
    key = f"{state.case_id}:{routing.asked}"
    if op == RoutingOp.RELEASE:
        return ReleaseRequest(case_id=state.case_id, at=now, key=key)
    if op == RoutingOp.TAKE:
        assert routing.take_agent is not None
        return TakeRequest(
            case_id=state.case_id,
            workflow_id=state.workflow_id,
            agent=routing.take_agent,
            team=state.team,
            requirement=requirement(state),
            priority=priority(m),
            at=now,
            key=key,
        )
    return PlaceRequest(
        case_id=state.case_id,
        workflow_id=state.workflow_id,
        team=routing.team or m.policy.intake.default_team,
        requirement=requirement(state),
        priority=priority(m),
        excluded=list(routing.excluded),
        at=now,
        key=key,
    )


def settled(
    m: CaseCore, op: RoutingOp, change: RoutingChange, now: datetime, taken_by: str | None = None
) -> None:
    """The answer to the workflow's own request (`taken_by`: the agent a take asked for).

    A second `assign` to someone else while the first was asked stays pending: it is asked next.
    """
    routing = m.state.routing
    if routing.op == op and (op != RoutingOp.TAKE or routing.take_agent == taken_by):
        routing.op = None
        routing.take_agent = None
    if op == RoutingOp.RELEASE and m.state.status in FINAL_STATUSES:
        routing.op = None
    apply(m, change, now, manual=op == RoutingOp.TAKE)


def acceptable(state: CaseState, change: RoutingChange) -> bool:
    """Whether a notice from outside (a signal) can be this roster's word on this case."""
    return (
        change.case_id == state.case_id
        and change.status in (RoutingStatus.QUEUED, RoutingStatus.ASSIGNED, RoutingStatus.RELEASED)
        and (change.agent is not None) == (change.status == RoutingStatus.ASSIGNED)
        and change.team is not None
    )


def apply(m: CaseCore, change: RoutingChange, now: datetime, manual: bool = False) -> None:
    """Take the roster's word, unless a newer word has been taken already."""
    state = m.state
    routing = state.routing
    if change.status == RoutingStatus.UNROUTED:
        # No team of the roster takes it: nothing was written there, so no sequence moves.
        if routing.status not in HOLDING:
            routing.status = RoutingStatus.UNROUTED
            routing.accept_by = None
        return
    if change.seq <= routing.seq:
        return
    routing.seq = change.seq
    was = routing.status
    if was == RoutingStatus.QUEUED and routing.queued_at is not None and change.status != RoutingStatus.QUEUED:
        routing.queue_seconds += max(0.0, (change.at - routing.queued_at).total_seconds())
        routing.queued_at = None
    routing.status = change.status
    routing.team = change.team or routing.team
    routing.lead = change.lead
    routing.recheck_at = None
    if change.team is not None:
        state.team = change.team
    if change.status == RoutingStatus.ASSIGNED:
        _assigned(m, change, now, manual)
    elif change.status == RoutingStatus.QUEUED:
        routing.accept_by = None
        routing.recheck_at = change.next_check_at
        if was != RoutingStatus.QUEUED:
            routing.queued_at = change.at
            if state.status not in FINAL_STATUSES:
                state.handler = None
            m.emit(
                "queued",
                "router",
                now,
                team=change.team,
                next_check_at=iso(change.next_check_at),
            )
    else:  # released
        routing.accept_by = None
        if was in HOLDING:
            m.emit("load_released", "router", now, team=change.team, handler=change.agent)


def _assigned(m: CaseCore, change: RoutingChange, now: datetime, manual: bool) -> None:
    state = m.state
    routing = state.routing
    if change.agent is None:
        return  # never from our roster; `acceptable` keeps it out of signals
    routing.assigned_at = change.at
    if routing.first_assigned_at is None:
        routing.first_assigned_at = change.at
    routing.accept_by = None
    if state.status == Status.REGISTERED:
        window = m.policy.intake.acceptance_window[state.tier]
        routing.accept_by = m.after(change.at, window)
    if state.status in FINAL_STATUSES:
        # Assigned from the queue just as the case ended: the seat goes straight back.
        routing.op = RoutingOp.RELEASE
        return
    state.handler = change.agent
    if manual:
        return  # `assign` (or the acknowledgement) recorded it already
    m.emit(
        "assigned",
        "router",
        now,
        handler=change.agent,
        team=change.team,
        queue_seconds=round(routing.queue_seconds, 3),
        accept_by=iso(routing.accept_by),
    )


def taken(m: CaseCore, agent: str) -> None:
    """A person took the case: `assign`, or an acknowledgement while it waits in the queue."""
    routing = m.state.routing
    routing.op = RoutingOp.TAKE
    routing.take_agent = agent


def acknowledged(m: CaseCore, actor: str) -> None:
    routing = m.state.routing
    routing.accept_by = None
    if routing.status in (RoutingStatus.QUEUED, RoutingStatus.PENDING):
        taken(m, actor)  # while queued, or while the first placement is still being asked


def fire_due(m: CaseCore, now: datetime) -> None:
    state = m.state
    routing = state.routing
    if state.status in FINAL_STATUSES:
        return
    if routing.accept_by is not None and state.status != Status.REGISTERED:
        routing.accept_by = None  # the agent is working it (a reply, a question, a proposal)
    if routing.accept_by is not None and due(routing.accept_by, now):
        _bypass(m, routing, now)
    if routing.recheck_at is not None and due(routing.recheck_at, now):
        routing.recheck_at = None
        if routing.status == RoutingStatus.QUEUED and routing.op is None:
            routing.op = RoutingOp.PLACE


def _bypass(m: CaseCore, routing: Routing, now: datetime) -> None:
    state = m.state
    agent = state.handler
    deadline = routing.accept_by
    routing.accept_by = None
    routing.bypasses += 1
    if agent is not None and agent not in routing.excluded:
        routing.excluded.append(agent)
    state.handler = None
    routing.op = RoutingOp.PLACE
    m.emit("assignment_bypassed", "router", now, handler=agent, team=routing.team, accept_by=iso(deadline))
    subject = f"{agent} did not accept case {state.case_id} by {m.local(deadline) if deadline else '-'}"
    m.queue(
        "assignment_bypassed",
        Audience.SUPERVISOR,
        routing.lead or m.policy.supervisor(state.escalation_level),
        [NotificationChannel.INTERNAL],
        subject,
        f"Case {state.case_id} ({state.tier.value}) is offered to the next agent of team "
        f"{routing.team}.",
        now,
    )


def next_wake(m: CaseCore) -> list[tuple[datetime, str]]:
    state = m.state
    routing = state.routing
    if state.status in FINAL_STATUSES:
        return []
    wakes = []
    if routing.accept_by is not None and state.status == Status.REGISTERED:
        wakes.append((routing.accept_by, f"{state.handler} to accept by {m.local(routing.accept_by)}"))
    if routing.recheck_at is not None and routing.status == RoutingStatus.QUEUED:
        wakes.append(
            (routing.recheck_at, f"team {routing.team} queue: asks again {m.local(routing.recheck_at)}")
        )
    return wakes
