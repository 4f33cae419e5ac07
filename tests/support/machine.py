"""Helpers for the pure case-machine tests: instants, the policy snapshot, cases in any status.

Every instant is explicit (aware, UTC unless a Shanghai wall time is clearer) and every case is
driven by calling `CaseMachine` directly, so no test needs a server or a real clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cases.core.machine import CaseMachine
from cases.fulfilment.actions import ReturnReceived, ReturnShipped
from cases.models import (
    Acknowledge,
    Approve,
    CaseEvent,
    ClockName,
    Confirm,
    ExecutedStep,
    ProposeResolution,
    Rate,
    RequestInfo,
    ResolutionType,
    Status,
    Withdraw,
)
from cases.policy.snapshot import Policy, PolicySnapshot, shared_snapshot
from tests.support.factories import intake

F = TypeVar("F", bound=Callable[..., Any])

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Shanghai
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WORKING_DAY = 9 * 3600.0  # 09:00-18:00 in the shipped calendar

FR = ClockName.FIRST_RESPONSE
IH = ClockName.INITIAL_HANDLING
RES = ClockName.RESOLUTION
CL = ClockName.CLOSURE
AP = ClockName.APPROVAL
HANDLING = (FR, IH, RES, CL)

# Actions that have an explicit test of what they change; see test_registry.py.
TESTED_ACTIONS: set[str] = set()


def covers(*actions: str) -> Callable[[F], F]:
    """Mark a test as the explicit test of `actions` (checked against the registry)."""

    def mark(test: F) -> F:
        TESTED_ACTIONS.update(actions)
        return test

    return mark


def shanghai(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# -- the policy snapshot, as the workflow gets it -------------------------------------------------

_SNAPSHOTS: dict[tuple[int, int], tuple[Policy, PolicySnapshot]] = {}


def snapshot_for(policy: Policy, opened_at: datetime) -> PolicySnapshot:
    """What `activities.policy_source.PolicySource.load` returns for a case opened at
    `opened_at` (one snapshot per calendar year of the policy's time zone), passed through
    `shared_snapshot` as the workflow does."""
    year = opened_at.astimezone(ZoneInfo(policy.calendar.timezone)).year
    key = (id(policy), year)
    if key not in _SNAPSHOTS:
        _SNAPSHOTS[key] = (policy, policy.snapshot(opened_at))
    return shared_snapshot(_SNAPSHOTS[key][1])


# -- follow-up sampling, recomputed independently of the engine -----------------------------------


def sampled(case_id: str, rate: float = 0.15) -> bool:
    bucket = int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % 10000
    return bucket < round(rate * 10000)


def case_id_with_sample(prefix: str, in_sample: bool) -> str:
    n = 0
    while sampled(f"{prefix}-{n}") != in_sample:
        n += 1
    return f"{prefix}-{n}"


NOT_SAMPLED = case_id_with_sample("unit-plain", in_sample=False)
SAMPLED = case_id_with_sample("unit-sampled", in_sample=True)


# -- opening and driving cases --------------------------------------------------------------------


def open_case(policy: Policy, at: datetime = T0, **overrides: Any) -> CaseMachine:
    """A case opened at `at` from `tests.support.factories.intake(**overrides)`."""
    data = intake(**overrides)
    assert data.case_id is not None
    return CaseMachine.open(data.case_id, data, snapshot_for(policy, at), at)


def general(policy: Policy, at: datetime = T0, **overrides: Any) -> CaseMachine:
    """A general case on a 2000 CNY order, not in the follow-up sample unless told."""
    return open_case(policy, at, **({"order_amount": "2000.00", "case_id": NOT_SAMPLED} | overrides))


def executed(kind: str = "refund") -> list[ExecutedStep]:
    return [ExecutedStep(step=kind, reference=f"{kind}-ref-1")]


def resolve(
    m: CaseMachine, at: datetime, kind: ResolutionType = ResolutionType.REFUND, amount: str = "100"
) -> datetime:
    """Acknowledge (if still registered), propose a remedy, have a supervisor approve it if it
    needs approval, and execute it. Returns the instant of the execution (`at` + 2 minutes)."""
    if m.state.status == Status.REGISTERED:
        m.apply("acknowledge", Acknowledge(actor="agent-1"), at)
    proposal = ProposeResolution(actor="agent-1", type=kind, amount=Decimal(amount))
    m.apply("propose_resolution", proposal, at + MINUTE)
    if m.state.status == Status.AWAITING_APPROVAL:
        m.apply("approve", Approve(actor="supervisor-1", role="supervisor"), at + MINUTE)
    assert m.state.status == Status.RESOLVING
    m.resolution_executed(executed(kind.value), at + 2 * MINUTE)
    return at + 2 * MINUTE


_ACK = ("acknowledge", Acknowledge(actor="agent-1"))
_SMALL = ("propose_resolution", ProposeResolution(type=ResolutionType.REFUND, amount=Decimal("100")))
_EXECUTE = ("<resolution_executed>", None)
_RESOLVED = [_ACK, _SMALL, _EXECUTE, ("confirm", Confirm())]
_RETURN = (
    "propose_resolution",
    ProposeResolution(type=ResolutionType.RETURN_REFUND, amount=Decimal("100")),
)
_SHIPPED = ("return_shipped", ReturnShipped(carrier="SF Express", tracking_number="SF1234567890"))
_LAPSE = ("<return window ends>", None)

# How to reach each status from a freshly opened general case.
ROUTES: dict[Status, list[tuple[str, Any]]] = {
    Status.REGISTERED: [],
    Status.ACKNOWLEDGED: [_ACK],
    Status.AWAITING_CUSTOMER: [("request_info", RequestInfo(question="A photo, please?"))],
    Status.AWAITING_APPROVAL: [
        _ACK,
        ("propose_resolution", ProposeResolution(type=ResolutionType.REFUND, amount=Decimal("800"))),
    ],
    Status.RESOLVING: [_ACK, _SMALL],
    Status.AWAITING_CONFIRMATION: [_ACK, _SMALL, _EXECUTE],
    Status.AWAITING_RATING: _RESOLVED,
    Status.FOLLOW_UP: [*_RESOLVED, ("rate", Rate(score=5))],  # a sampled case id
    Status.CLOSED: [*_RESOLVED, ("rate", Rate(score=5))],  # a case id out of the sample
    Status.WITHDRAWN: [("withdraw", Withdraw(reason="changed my mind"))],
    Status.AWAITING_RETURN: [_ACK, _RETURN],
    Status.RETURN_IN_TRANSIT: [_ACK, _RETURN, _SHIPPED],
    Status.INSPECTING: [_ACK, _RETURN, _SHIPPED, ("return_received", ReturnReceived())],
    Status.REPAIRING: [
        _ACK, ("propose_resolution", ProposeResolution(type=ResolutionType.REPAIR))
    ],
    Status.LAPSED: [_ACK, _RETURN, _LAPSE],
}


def machine_in(policy: Policy, status: Status) -> tuple[CaseMachine, datetime]:
    """A general case driven into `status`; returns it and an instant after the last step."""
    case_id = SAMPLED if status == Status.FOLLOW_UP else NOT_SAMPLED
    m = general(policy, case_id=case_id)
    t = T0
    for action, data in ROUTES[status]:
        t += 10 * MINUTE
        if action == "<return window ends>":
            t = m.state.clocks[ClockName.RETURN_WINDOW].due_at or t
            m.fire_due(t)
        elif data is None:
            m.resolution_executed(executed(), t)
        else:
            m.apply(action, data, t)
    assert m.state.status == status
    return m, t + 10 * MINUTE


# -- reading what the machine queued --------------------------------------------------------------


def key(event: CaseEvent) -> tuple[str, str | None]:
    """An audit event as (type, detail): the clock or notification kind it concerns."""
    return event.type, event.data.get("clock") or event.data.get("kind")


def since(m: CaseMachine, seq: int) -> list[tuple[str, str | None]]:
    """The events queued after sequence number `seq`, as `key`s."""
    return [key(e) for e in m.events if e.seq > seq]


def assert_gapless(m: CaseMachine) -> None:
    """Every event the machine queued since it opened, numbered 1, 2, 3, ... without a gap."""
    assert [e.seq for e in m.events] == list(range(1, m.state.last_seq + 1))


def frozen(m: CaseMachine) -> tuple[Any, ...]:
    """Everything an action could change: the state and the three queues."""
    return (
        m.state.model_dump(),
        [e.model_dump() for e in m.events],
        [n.model_dump() for n in m.notifications],
        [r.model_dump() for r in m.retired_clocks],
    )


def supervisor_notices(m: CaseMachine, kind: str) -> list[tuple[str, str]]:
    return [(n.recipient, n.subject) for n in m.notifications if n.kind == kind]
