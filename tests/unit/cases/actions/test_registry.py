"""The action registry as a whole: every action is tested, refused outside its statuses, and
numbers its audit events on from the case's last sequence number inside them.

The refusal and acceptance tests are parametrised over `ACTIONS` and `Status`, so a new action
or status is covered without touching this file; a new action without an explicit test of what
it changes fails `test_every_action_has_an_explicit_test`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from cases.actions.registry import ACTION_MODELS, ACTIONS
from cases.actions.roles import Role
from cases.core.machine import CaseMachine, InvalidAction
from cases.fulfilment.actions import (
    AgentReply,
    CustomerMessage,
    InspectionResult,
    RepairResult,
    ReturnDelivered,
    ReturnReceived,
    ReturnShipped,
)
from cases.fulfilment.models import InspectionOutcome, RepairOutcome
from cases.intervention.actions import (
    Appeal,
    AskIntervention,
    CarryOutRuling,
    ConfirmRuling,
    RequestEvidence,
    Rule,
    SubmitEvidence,
)
from cases.intervention.models import Decision as Ruled
from cases.intervention.models import Party
from cases.models import (
    Acknowledge,
    Action,
    Approve,
    Assign,
    Confirm,
    CustomerReply,
    Dispute,
    Escalate,
    FollowUpOutcome,
    FollowUpResult,
    Note,
    ProposeResolution,
    Rate,
    Reclassify,
    Reject,
    RequestInfo,
    ResolutionType,
    Status,
    Tier,
    Withdraw,
)
from cases.platform.actions import Decision, MerchantAnswer, RemedyRequest
from cases.platform.models import Remedy, RequestReason
from cases.policy.snapshot import Policy
from tests.support import interventions
from tests.support.machine import NOT_SAMPLED, ROUTES, T0, TESTED_ACTIONS, frozen, general, machine_in
from tests.unit.cases.actions import test_after_resolution_actions as test_actions_after
from tests.unit.cases.actions import test_handling as test_actions_handling
from tests.unit.cases.fulfilment import test_fulfilment as test_fulfilment
from tests.unit.cases.intervention import test_intervention
from tests.unit.cases.platform import test_duties

# One valid input per action, accepted by the action's model.
VALID: dict[str, Action] = {
    "acknowledge": Acknowledge(actor="agent-1", message="on it"),
    "assign": Assign(actor="lead-1", handler="agent-2", team="returns"),
    "note": Note(actor="agent-1", text="called the warehouse"),
    "request_info": RequestInfo(actor="agent-1", question="A photo, please?"),
    "customer_reply": CustomerReply(text="here it is"),
    "reclassify": Reclassify(actor="agent-1", tier=Tier.COMPLEX, reason="two departments"),
    "propose_resolution": ProposeResolution(
        actor="agent-1", type=ResolutionType.REFUND, amount=Decimal("100")
    ),
    "approve": Approve(actor="supervisor-1", role="supervisor", note="ok"),
    "reject": Reject(actor="supervisor-1", role="supervisor", reason="too much"),
    "confirm": Confirm(),
    "dispute": Dispute(reason="still broken"),
    "rate": Rate(score=4),
    "follow_up_result": FollowUpResult(actor="caller-1", outcome=FollowUpOutcome.SATISFIED),
    "escalate": Escalate(actor="agent-1", reason="press enquiry"),
    "withdraw": Withdraw(reason="bought another"),
    "return_shipped": ReturnShipped(carrier="SF Express", tracking_number="SF1234567890"),
    "return_received": ReturnReceived(actor="warehouse-sh", note="box intact"),
    "inspection_result": InspectionResult(
        actor="inspector-1", result=InspectionOutcome.PASSED, evidence=["photo-1"]
    ),
    "repair_result": RepairResult(
        actor="technician-1", result=RepairOutcome.FIXED, repair_record="RR-1"
    ),
    "agent_reply": AgentReply(actor="agent-1", text="We are checking with the warehouse."),
    "customer_message": CustomerMessage(text="Any news?"),
    "return_delivered": ReturnDelivered(note="left at the door"),
    "request_remedy": RemedyRequest(remedy=Remedy.REFUND_ONLY, reason=RequestReason.NOT_RECEIVED, amount=Decimal("50")),
    "answer_request": MerchantAnswer(actor="merchant-agent", decision=Decision.AGREE),
    "ask_intervention": AskIntervention(reason="the merchant refused", references=["IMG-1"]),
    "submit_evidence": SubmitEvidence(actor="merchant-1", party=Party.MERCHANT, text="shipped intact"),
    "request_evidence": RequestEvidence(actor="arbiter-1", party=Party.BUYER, question="A photo?", role=Role.ARBITER),
    "rule": Rule(actor="arbiter-1", decision=Ruled.REFUND, amount=Decimal("10"), reason="r", role=Role.ARBITER),
    "confirm_ruling": ConfirmRuling(actor="arbiter-2", note="agreed", role=Role.ARBITER),
    "carry_out_ruling": CarryOutRuling(actor="merchant-1", note="paid"),
    "appeal": Appeal(reason="look again"),
}

# Actions that answer something the case must hold first.
BEFORE: dict[str, str] = {"answer_request": "request_remedy"}


def prepared(policy: Policy, action: str, status: Status) -> tuple[CaseMachine, datetime]:
    """A case in `status` holding what `action` answers: asked for first, then driven there."""
    if action in interventions.ACTIONS:
        m, now = machine_in(policy, status)
        interventions.holding(m, action, now)
        return m, now
    if action not in BEFORE:
        return machine_in(policy, status)
    m = general(policy, case_id=NOT_SAMPLED)
    now = T0
    m.apply(BEFORE[action], VALID[BEFORE[action]], now)
    for step, data in ROUTES[status]:
        now += timedelta(minutes=1)
        m.apply(step, data, now)
    assert m.state.status == status
    return m, now + timedelta(minutes=1)


REFUSED = [(a, s) for a, spec in ACTIONS.items() for s in Status if s not in spec.allowed]
ALLOWED = [(a, s) for a, spec in ACTIONS.items() for s in Status if s in spec.allowed]


def test_every_action_has_an_explicit_test() -> None:
    # all imported
    assert test_actions_handling.__name__ and test_actions_after.__name__ and test_fulfilment.__name__
    assert test_duties.__name__ and test_intervention.__name__
    assert TESTED_ACTIONS == set(ACTIONS)


def test_every_action_has_a_valid_input_of_its_model() -> None:
    assert set(VALID) == set(ACTIONS) == set(ACTION_MODELS)
    for name, data in VALID.items():
        assert type(data) is ACTIONS[name].model is ACTION_MODELS[name]


@pytest.mark.parametrize("status", list(Status))
def test_a_case_can_be_driven_into_every_status(policy, status: Status) -> None:
    m, _ = machine_in(policy, status)
    assert m.state.status == status
    assert [e.seq for e in m.events] == list(range(1, m.state.last_seq + 1))


@pytest.mark.parametrize(("action", "status"), REFUSED, ids=[f"{a}-{s}" for a, s in REFUSED])
def test_action_outside_its_statuses_is_refused_and_changes_nothing(
    policy, action: str, status: Status
) -> None:
    m, now = machine_in(policy, status)
    before = frozen(m)
    with pytest.raises(InvalidAction, match=f"{action} is not allowed while the case is {status.value}"):
        m.check(action, VALID[action])
    with pytest.raises(InvalidAction, match=f"{action} is not allowed while the case is {status.value}"):
        m.apply(action, VALID[action], now)
    assert frozen(m) == before


@pytest.mark.parametrize(("action", "status"), ALLOWED, ids=[f"{a}-{s}" for a, s in ALLOWED])
def test_action_inside_its_statuses_appends_numbered_events(
    policy, action: str, status: Status
) -> None:
    m, now = prepared(policy, action, status)
    last = m.state.last_seq
    queued = len(m.events)
    m.check(action, VALID[action])
    m.apply(action, VALID[action], now)
    new = m.events[queued:]
    assert new, f"{action} queued no audit event"
    assert [e.seq for e in new] == list(range(last + 1, last + 1 + len(new)))
    assert m.state.last_seq == new[-1].seq
    assert all(e.at == now for e in new)
    # The action's own event, the one its row names for webhooks, the customer and what-if,
    # carries the actor who sent it.
    assert (ACTIONS[action].event, VALID[action].actor) in {(e.type, e.actor) for e in new}


def test_an_unknown_action_is_refused(policy) -> None:
    m = general(policy)
    before = frozen(m)
    with pytest.raises(InvalidAction, match="unknown action 'close_now'"):
        m.check("close_now", Note(text="x"))
    with pytest.raises(InvalidAction, match="unknown action 'close_now'"):
        m.apply("close_now", Note(text="x"), m.state.opened_at)
    assert frozen(m) == before


def test_an_action_with_another_actions_model_is_refused(policy) -> None:
    m = general(policy)
    before = frozen(m)
    with pytest.raises(InvalidAction, match="acknowledge takes Acknowledge, not Note"):
        m.apply("acknowledge", Note(text="x"), m.state.opened_at)
    assert frozen(m) == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_what_if_reads_back_each_action_so_that_it_does_what_it_did(policy, action: str) -> None:
    """The input what-if rebuilds from an action's audit event (`ActionSpec.rebuilt`) changes the
    case exactly as the input that was sent: a field of the same name that meant something else,
    or one the event does not record, would show here."""
    spec = ACTIONS[action]
    status = next(s for s in Status if s in spec.allowed)
    sent, now = prepared(policy, action, status)
    queued = len(sent.events)
    sent.apply(action, VALID[action], now)
    event = next(e for e in sent.events[queued:] if e.type == spec.event)
    rebuilt = spec.model.model_validate(spec.rebuilt(event, [], sent.state))
    again, _ = prepared(policy, action, status)
    again.apply(action, rebuilt, now)
    assert frozen(again) == frozen(sent)
