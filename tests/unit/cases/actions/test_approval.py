"""Review before a resolution is carried out (S3.1-S3.3): which proposals need approval, the
4 h approval clock that starts with them, its warning and breach, and approve/reject meeting it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources

import pytest

from cases.actions.roles import Role
from cases.core.machine import InvalidAction
from cases.models import (
    Acknowledge,
    Approve,
    ClockState,
    ProposeResolution,
    Reject,
    ResolutionType,
    Status,
)
from cases.policy.snapshot import PolicyError, PolicySnapshot, load_policy
from tests.support.machine import AP, HOUR, MINUTE, T0, US, frozen, general, open_case, since

R = ResolutionType
P = T0 + HOUR  # when the proposal is made


def propose(m, kind: ResolutionType, amount: str, actor: str = "agent-1") -> None:
    m.apply("acknowledge", Acknowledge(actor=actor), T0 + MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor=actor, type=kind, amount=Decimal(amount)), P)


@pytest.mark.parametrize(
    ("intake", "kind", "amount", "needed"),
    [
        ({}, R.REFUND, "500", False),  # the threshold itself needs no approval
        ({}, R.REFUND, "500.01", True),
        ({}, R.EXCHANGE, "600", True),
        ({}, R.COMPENSATION, "600", True),
        ({}, R.REPAIR, "600", False),  # not a money-moving type
        ({}, R.RETURN_REFUND, "600", True),
        ({"category": "logistics"}, R.REFUND_ONLY, "600", True),  # a lost parcel
        ({"category": "safety"}, R.REFUND, "10", True),  # urgent: always reviewed
        ({"category": "safety"}, R.EXPLANATION, "0", True),
    ],
)
def test_which_proposals_need_approval(policy, intake, kind, amount, needed) -> None:
    m = open_case(policy, **({"order_amount": "2000.00"} | intake))
    propose(m, kind, amount)
    assert m.state.proposal is not None and m.state.proposal.needs_approval is needed
    started = {R.REPAIR: Status.REPAIRING}.get(kind, Status.RESOLVING)
    assert m.state.status == (Status.AWAITING_APPROVAL if needed else started)
    assert (AP in m.state.clocks) is needed


def test_the_approval_clock_starts_with_the_proposal_and_lasts_four_hours(policy) -> None:
    m = open_case(policy, category="safety")  # urgent: level 2
    propose(m, R.REFUND, "200")
    ap = m.state.clocks[AP]
    assert (ap.started_at, ap.due_at, ap.warn_at, ap.target_label, ap.business) == (
        P, P + 4 * HOUR, P + 3.2 * HOUR, "4h", False,
    )
    assert [(n.recipient, n.subject) for n in m.notifications if n.kind == "approval_requested"] == [
        ("regional-supervisor", "Approval needed: refund 200 CNY")
    ]


def test_a_late_approval_warns_breaches_and_escalates_while_the_case_waits(policy) -> None:
    m = general(policy)
    propose(m, R.REFUND, "800")
    m.fire_due(P + 3.2 * HOUR - US)
    assert m.state.clocks[AP].warned_at is None
    last = m.state.last_seq
    m.fire_due(P + 3.2 * HOUR)
    assert since(m, last) == [("clock_warning", "approval"), ("notification_queued", "sla_warning")]
    m.fire_due(P + 4 * HOUR - US)
    assert m.state.clocks[AP].breached_at is None
    m.fire_due(P + 4 * HOUR)
    assert since(m, last)[2:] == [
        ("clock_breached", "approval"), ("escalated", None), ("notification_queued", "escalation"),
    ]
    assert (m.state.status, m.state.escalation_level) == (Status.AWAITING_APPROVAL, 2)
    assert m.notifications[-1].subject == "Escalated to level 2 (regional service center): approval SLA breached"
    m.apply("approve", Approve(actor="supervisor-1", role="supervisor"), P + 6 * HOUR)
    ap = m.state.clocks[AP]
    assert (ap.state, ap.met_at, ap.elapsed_seconds) == (ClockState.BREACHED, P + 6 * HOUR, 6 * 3600.0)
    assert m.events[-1].data["on_time"] is False
    assert m.state.status == Status.RESOLVING


@pytest.mark.parametrize(
    ("action", "data", "status"),
    [
        ("approve", Approve(actor="supervisor-1", role="supervisor"), Status.RESOLVING),
        ("reject", Reject(actor="supervisor-1", role="supervisor", reason="no"), Status.ACKNOWLEDGED),
    ],
)
def test_approve_and_reject_meet_the_approval_clock(policy, action, data, status) -> None:
    m = general(policy)
    propose(m, R.REFUND, "800")
    m.apply(action, data, P + HOUR)
    ap = m.state.clocks[AP]
    assert (ap.state, ap.met_at, ap.elapsed_seconds, ap.due_at) == (ClockState.MET, P + HOUR, 3600.0, None)
    assert m.events[-1].data == {
        "clock": "approval", "elapsed_seconds": 3600.0, "target_seconds": 14400.0, "on_time": True,
    }
    assert m.state.status == status
    assert m.next_wake()[0] != P + 3.2 * HOUR  # the approval warning no longer pends


def test_the_proposer_cannot_approve_their_own_proposal(policy) -> None:
    m = general(policy)
    propose(m, R.REFUND, "800", actor="agent-1")
    before = frozen(m)
    with pytest.raises(InvalidAction, match=r"agent-1 proposed this resolution and cannot approve it \(four-eyes"):
        m.check("approve", Approve(actor="agent-1", role=Role.SUPERVISOR))
    with pytest.raises(InvalidAction, match="four-eyes"):
        m.apply("approve", Approve(actor="agent-1", role=Role.SUPERVISOR), P + HOUR)
    assert frozen(m) == before


def _approved_roles(m) -> list[str | None]:
    return [e.data.get("role") for e in m.events if e.type == "approved"]


def test_a_reviewer_approves_up_to_the_level_and_a_supervisor_above_it(policy) -> None:
    m = general(policy, order_amount="5000.00")
    propose(m, R.REFUND, "2000")  # the level itself is within it
    m.apply("approve", Approve(actor="reviewer-1", role=Role.REVIEWER), P + HOUR)
    assert m.state.status == Status.RESOLVING
    assert _approved_roles(m) == ["reviewer"]

    m = general(policy, order_amount="5000.00")
    propose(m, R.REFUND, "2000.01")
    before = frozen(m)
    over = "approve: 2000.01 CNY is over the 2000 CNY a reviewer may approve; a supervisor must approve it"
    with pytest.raises(InvalidAction) as refused:
        m.check("approve", Approve(actor="reviewer-1", role=Role.REVIEWER))
    assert str(refused.value) == over
    with pytest.raises(InvalidAction, match=re.escape(over)):
        m.apply("approve", Approve(actor="reviewer-1", role=Role.REVIEWER), P + HOUR)
    assert frozen(m) == before
    m.apply("approve", Approve(actor="supervisor-1", role=Role.SUPERVISOR), P + HOUR)
    assert m.state.status == Status.RESOLVING and m.state.review is not None and m.state.review.by == "supervisor-1"
    assert _approved_roles(m) == ["supervisor"]


@pytest.mark.parametrize("role", [None, Role.AGENT, Role.SYSTEM, Role.WAREHOUSE])
def test_approve_and_reject_need_a_reviewing_role(policy, role) -> None:
    m = general(policy)
    propose(m, R.REFUND, "800")
    before = frozen(m)
    given = "" if role is None else f", not {role.value}"
    with pytest.raises(InvalidAction, match=re.escape(f"approve.role: required: reviewer or supervisor{given}")):
        m.apply("approve", Approve(actor="someone", role=role), P + HOUR)
    with pytest.raises(InvalidAction, match=re.escape(f"reject.role: required: reviewer or supervisor{given}")):
        m.apply("reject", Reject(actor="someone", reason="no", role=role), P + HOUR)
    assert frozen(m) == before


def test_the_proposer_may_reject_their_own_proposal_as_a_reviewer(policy) -> None:
    # Rejecting moves no money, so four-eyes does not apply to it; a reviewer's level neither.
    m = general(policy, order_amount="5000.00")
    propose(m, R.REFUND, "3000", actor="lead-1")
    m.apply("reject", Reject(actor="lead-1", reason="wrong amount", role=Role.REVIEWER), P + HOUR)
    assert m.state.status == Status.ACKNOWLEDGED
    assert next(e for e in m.events if e.type == "rejected").data == {"reason": "wrong amount", "role": "reviewer"}


def test_a_case_from_before_approval_levels_keeps_its_rules(policy) -> None:
    # Its snapshot, captured in its history, has no levels: no role is asked for, as when it began.
    m = general(policy)
    recorded = m.policy.model_dump(mode="json")
    del recorded["approval_levels"]
    m.policy = PolicySnapshot.model_validate(recorded)
    assert m.policy.approval_levels is None
    propose(m, R.REFUND, "800", actor="agent-1")
    m.apply("approve", Approve(actor="agent-1"), P + HOUR)
    assert m.state.status == Status.RESOLVING
    assert next(e for e in m.events if e.type == "approved").data == {"note": ""}


# --- [approval.levels] in the policy file ------------------------------------------------------

AMOUNT_OR_UNLIMITED = 'must be an amount of at least 0 or "unlimited", got '
SHIPPED_LEVELS = 'reviewer = 2000\nsupervisor = "unlimited"\n'


def _levels(tmp_path, lines: str):
    text = resources.files("cases").joinpath("default_policy.toml").read_text(encoding="utf-8")
    assert SHIPPED_LEVELS in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(SHIPPED_LEVELS, lines, 1), encoding="utf-8")
    return load_policy(path).snapshot(T0).approval_levels


def test_the_shipped_levels_are_captured_in_each_new_case(policy) -> None:
    assert policy.snapshot(T0).approval_levels == {"reviewer": Decimal("2000"), "supervisor": None}


@pytest.mark.parametrize(
    ("lines", "levels"),
    [
        ("reviewer = 3000\n", {"reviewer": Decimal("3000"), "supervisor": None}),  # the other keeps its default
        ("", {"reviewer": Decimal("2000"), "supervisor": None}),
        ('reviewer = "2500.50"\nsupervisor = 10000\n', {"reviewer": Decimal("2500.50"), "supervisor": Decimal(10000)}),
        ('reviewer = "unlimited"\n', {"reviewer": None, "supervisor": None}),
    ],
)
def test_approval_levels_in_the_policy_file(tmp_path, lines, levels) -> None:
    assert _levels(tmp_path, lines) == levels


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("reviewer = -1\n", f"approval.levels.reviewer: {AMOUNT_OR_UNLIMITED}-1"),
        ('reviewer = "lots"\n', f"approval.levels.reviewer: {AMOUNT_OR_UNLIMITED}'lots'"),
        ("supervisor = true\n", "approval.levels.supervisor: must be an amount"),
        ("agent = 100\n", "approval.levels.agent: unknown key"),
        ("supervisor = 1000\n", "approval.levels: supervisor (1000) must be at least reviewer (2000)"),
        ('reviewer = "unlimited"\nsupervisor = 5000\n', "approval.levels: supervisor (5000) must be at least reviewer"),
    ],
)
def test_bad_approval_levels_are_refused_naming_the_key(tmp_path, lines, message) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        _levels(tmp_path, lines)
