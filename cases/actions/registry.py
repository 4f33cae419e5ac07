"""The action registry: everything the engine knows about each action, in one row.

A row names the action's input model, the statuses it is allowed in, its handler and any check
beyond the status, the roles that may send it and whether the customer's own link may, the audit
event its handler records, the fields of that event a webhook may carry, how the event reads on the
customer's timeline, and how what-if reads the action back from the trail. The workflow's update
methods, the CLI, the HTTP API and its roles, the customer view, the webhooks and what-if all read
this table, so a new action is its model, its handler and its row here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cases.actions import conversation, review, trail
from cases.actions import handlers as h
from cases.actions import labels as lb
from cases.actions.labels import Label
from cases.actions.roles import ARBITERS, EVERYONE, GOODS, ON_BEHALF_OF_CUSTOMER, REVIEWERS, STAFF, Role
from cases.actions.trail import TrailEvent
from cases.core.moves import CaseCore, InvalidAction
from cases.fulfilment import delivered, legs
from cases.fulfilment.actions import (
    AgentReply,
    CustomerMessage,
    InspectionResult,
    RepairResult,
    ReturnDelivered,
    ReturnReceived,
    ReturnShipped,
)
from cases.intervention import hearing
from cases.intervention import ruling as carrying
from cases.intervention.actions import (
    Appeal,
    AskIntervention,
    CarryOutRuling,
    ConfirmRuling,
    RequestEvidence,
    Rule,
    SubmitEvidence,
)
from cases.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Acknowledge,
    Action,
    Approve,
    Assign,
    CaseState,
    Confirm,
    CustomerReply,
    Dispute,
    Escalate,
    FollowUpResult,
    Note,
    ProposeResolution,
    Rate,
    Reclassify,
    Reject,
    RequestInfo,
    Status,
    Withdraw,
)
from cases.platform import duties
from cases.platform.actions import MerchantAnswer, RemedyRequest

A = TypeVar("A", bound=Action)

NOT_FINAL = frozenset(Status) - FINAL_STATUSES
RETURNING = frozenset({Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT})
NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ActionSpec(Generic[A]):
    model: type[A]
    allowed: frozenset[Status]
    handler: Callable[[CaseCore, A, datetime], None]
    roles: frozenset[Role]
    # The audit event the handler records: what webhooks, the customer view and what-if see.
    event: str
    # A rule beyond the status, checked by the update validator before anything changes.
    check: Callable[[CaseCore, A], None] | None = None
    # The customer's signed link may send it (STANDARDS S13.3).
    customer: bool = False
    # The fields of its event a webhook may carry; None: no subscription can name the event, and
    # one to every event (`*`) gets it without fields.
    public: frozenset[str] | None = NOTHING
    # Its event on the customer's timeline; None keeps it internal.
    label: Label | None = None
    # Whether a recorded event of this type was the action (the case emits some by itself).
    taken: Callable[[TrailEvent, TrailEvent | None], bool] = trail.always
    # What the event leaves out, read from the rest of the trail and the final state.
    rest: Callable[[TrailEvent, Sequence[TrailEvent], CaseState], dict[str, Any]] | None = None

    def rebuilt(self, event: TrailEvent, later: Sequence[TrailEvent], final: CaseState) -> dict[str, Any]:
        """The input this action was sent, as far as the trail tells it."""
        data = trail.rebuilt(self.model, event)
        return data | self.rest(event, later, final) if self.rest is not None else data


ACTIONS: Mapping[str, ActionSpec[Any]] = {
    "acknowledge": ActionSpec(
        Acknowledge, frozenset({Status.REGISTERED}), h.acknowledge, STAFF, "acknowledged",
        label=Label("An agent responded", "客服已响应"),
    ),
    "assign": ActionSpec(
        Assign, NOT_FINAL, h.assign, STAFF, "assigned", public=frozenset({"team"}), taken=trail.by_agent,
    ),
    "note": ActionSpec(Note, NOT_FINAL, h.note, EVERYONE, "note"),
    "request_info": ActionSpec(
        RequestInfo, frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}), h.request_info, STAFF,
        "info_requested", label=Label("We asked for more information", "需要补充信息", lb.fields("question")),
    ),
    "customer_reply": ActionSpec(
        CustomerReply, frozenset({Status.AWAITING_CUSTOMER}), h.customer_reply, ON_BEHALF_OF_CUSTOMER,
        "customer_replied", label=Label("You sent the information", "您已补充信息", lb.fields("text")),
    ),
    "reclassify": ActionSpec(
        Reclassify, OPEN_STATUSES, h.reclassify, STAFF, "reclassified", check=h.check_reclassify,
        public=frozenset({"old_tier", "tier", "category", "due"}),
    ),
    "propose_resolution": ActionSpec(
        # Also while a return is under way: the agent may change the plan (a parcel lost).
        ProposeResolution, frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}) | RETURNING,
        h.propose_resolution, STAFF, "resolution_proposed", check=h.check_propose_resolution,
        public=frozenset({"type", "amount", "needs_approval", "number"}),
        label=Label("Solution proposed", "已提出解决方案", lb.plan), rest=trail.proposal_rest,
    ),
    "approve": ActionSpec(
        Approve, frozenset({Status.AWAITING_APPROVAL}), h.approve, REVIEWERS, "approved",
        check=review.check_approve, public=frozenset({"role"}), label=Label("Solution approved", "方案已批准"),
    ),
    "reject": ActionSpec(
        Reject, frozenset({Status.AWAITING_APPROVAL}), h.reject, REVIEWERS, "rejected",
        check=review.check_reject, public=frozenset({"role"}),
        label=Label("We are reconsidering the solution", "正在重新制定方案"),
    ),
    "confirm": ActionSpec(
        Confirm, frozenset({Status.AWAITING_CONFIRMATION}), h.confirm, ON_BEHALF_OF_CUSTOMER, "confirmed",
        customer=True, label=Label("You confirmed the result", "您已确认结果"),
    ),
    "dispute": ActionSpec(
        Dispute, frozenset({Status.AWAITING_CONFIRMATION}), h.dispute, ON_BEHALF_OF_CUSTOMER, "disputed",
        check=h.check_dispute, customer=True,
        label=Label("You disputed the result", "您对结果提出异议", lb.fields("reason")),
    ),
    "rate": ActionSpec(
        Rate, frozenset({Status.AWAITING_RATING}), h.rate, ON_BEHALF_OF_CUSTOMER, "rated",
        customer=True, public=frozenset({"score"}), label=Label("You rated our service", "您已评价", lb.score),
    ),
    "follow_up_result": ActionSpec(
        FollowUpResult, frozenset({Status.FOLLOW_UP}), h.follow_up_result, STAFF, "follow_up_result",
        public=frozenset({"outcome"}), taken=trail.heard,
    ),
    "escalate": ActionSpec(
        Escalate, NOT_FINAL, h.escalate, ON_BEHALF_OF_CUSTOMER, "escalated", check=h.check_escalate,
        public=frozenset({"from_level", "to_level", "level_name"}), taken=trail.by_hand,
    ),
    "withdraw": ActionSpec(
        Withdraw, OPEN_STATUSES | RETURNING, h.withdraw, ON_BEHALF_OF_CUSTOMER, "withdrawn",
        label=Label("Request withdrawn", "申请已撤回"),
    ),
    "return_shipped": ActionSpec(
        ReturnShipped, frozenset({Status.AWAITING_RETURN}), legs.return_shipped, GOODS, "return_shipped",
        public=frozenset({"carrier"}),
        label=Label("Return shipped", "退货已寄出", lb.fields("carrier", "tracking_number")),
    ),
    "return_delivered": ActionSpec(
        # Also while inspecting: the carrier's word may come after the warehouse's scan.
        ReturnDelivered, RETURNING | {Status.INSPECTING}, delivered.return_delivered, GOODS, "return_delivered",
        check=delivered.check_delivered,
        public=frozenset({"rma"}), label=Label("Return delivered to the merchant", "退货已送达商家", lb.fields("rma")),
    ),
    "return_received": ActionSpec(
        ReturnReceived, RETURNING, legs.return_received, GOODS, "return_received",
        public=frozenset({"rma"}), label=Label("Return received", "退货已收到", lb.fields("rma")),
    ),
    "inspection_result": ActionSpec(
        InspectionResult, frozenset({Status.INSPECTING}), legs.inspection_result, GOODS, "inspection_result",
        check=delivered.check_inspection,
        public=frozenset({"result", "silent"}), label=Label("Return inspected", "退货检测完成", lb.inspected),
        taken=trail.reported,
    ),
    "repair_result": ActionSpec(
        RepairResult, frozenset({Status.REPAIRING}), legs.repair_result, GOODS, "repair_result",
        public=frozenset({"result"}), label=Label("Repair finished", "维修完成", lb.outcome),
    ),
    # The buyer's request to the merchant and the merchant's answer (STANDARDS S15). A request at
    # intake records the same event, marked `at_open`: it came with the case, not as an action.
    # Only the buyer asks (their link, or a backend for them): staff who asked could approve it.
    "request_remedy": ActionSpec(
        RemedyRequest, frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}), duties.request_remedy,
        frozenset({Role.SYSTEM}), "remedy_requested", check=duties.check_request, customer=True,
        # Not `reason`: webhooks treat that name as free text wherever it appears.
        public=frozenset({"remedy", "amount", "rule", "entitled"}),
        label=Label("You asked the merchant", "您已向商家提出申请", lb.asked), taken=trail.not_at_open,
    ),
    # Also while staff wait on the buyer: the merchant's clock does not wait (S15.4).
    "answer_request": ActionSpec(
        MerchantAnswer, frozenset({Status.REGISTERED, Status.ACKNOWLEDGED, Status.AWAITING_CUSTOMER}),
        duties.answer_request,
        STAFF | REVIEWERS, "request_answered", check=duties.check_answer, public=frozenset({"decision"}),
        label=Label("The merchant answered your request", "商家已处理您的申请", lb.answered),
    ),
    # The platform steps in (STANDARDS S16): a parallel track on the case, open while it is.
    "ask_intervention": ActionSpec(
        AskIntervention, NOT_FINAL, hearing.ask, ON_BEHALF_OF_CUSTOMER, "intervention_asked",
        check=hearing.check_ask, customer=True, public=frozenset({"party", "stage"}),
        label=Label("You asked the platform to step in", "您已申请平台介入"),
    ),
    "submit_evidence": ActionSpec(
        SubmitEvidence, NOT_FINAL, hearing.submit_evidence, ON_BEHALF_OF_CUSTOMER, "evidence_submitted",
        check=hearing.check_evidence, customer=True, public=frozenset({"party"}),
        label=Label("Evidence submitted", "已提交凭证", lb.party),
    ),
    "request_evidence": ActionSpec(
        RequestEvidence, NOT_FINAL, hearing.request_evidence, ARBITERS, "evidence_requested",
        check=hearing.check_request_evidence, public=frozenset({"party", "due_at"}),
        label=Label("The platform asked for more evidence", "平台要求补充凭证", lb.asked_of_buyer),
    ),
    # Not while the case's own plan is being carried out: the ruling would cross it.
    "rule": ActionSpec(
        Rule, NOT_FINAL - {Status.RESOLVING}, hearing.rule, ARBITERS, "ruling_made", check=hearing.check_rule,
        public=frozenset({"decision", "amount", "needs_second"}),
    ),
    "confirm_ruling": ActionSpec(
        ConfirmRuling, NOT_FINAL, hearing.confirm_ruling, ARBITERS, "ruling_confirmed", check=hearing.check_confirm,
    ),
    "carry_out_ruling": ActionSpec(
        CarryOutRuling, NOT_FINAL, carrying.carry_out, STAFF, "ruling_carried_out", check=carrying.check_carry_out,
        public=frozenset({"settles"}), label=Label("The merchant carried out the ruling", "商家已执行裁决"),
    ),
    "appeal": ActionSpec(
        Appeal, NOT_FINAL, hearing.appeal, ON_BEHALF_OF_CUSTOMER, "appealed", check=hearing.check_appeal,
        customer=True, public=frozenset({"party", "stage"}),
        label=Label("Ruling appealed", "已申诉", lb.party),
    ),
    "agent_reply": ActionSpec(
        AgentReply, NOT_FINAL, conversation.agent_reply, STAFF, "agent_replied",
        label=Label("Reply from customer service", "客服回复", lb.fields("text")),
    ),
    "customer_message": ActionSpec(
        CustomerMessage, NOT_FINAL, conversation.customer_message, ON_BEHALF_OF_CUSTOMER, "customer_message",
        customer=True, label=Label("Your message", "您的留言", lb.fields("text")),
    ),
}

ACTION_MODELS: Mapping[str, type[Action]] = {name: spec.model for name, spec in ACTIONS.items()}
# What a customer may do with the signed link to their own case, and nothing else.
CUSTOMER_ACTIONS = frozenset(name for name, spec in ACTIONS.items() if spec.customer)
# Audit event type -> the action that records it.
BY_EVENT: Mapping[str, str] = {spec.event: name for name, spec in ACTIONS.items()}


def may(role: Role, action: str) -> bool:
    spec = ACTIONS.get(action)
    return spec is not None and role in spec.roles


def spec_for(action: str) -> ActionSpec[Any]:
    spec = ACTIONS.get(action)
    if spec is None:
        raise InvalidAction(f"unknown action {action!r}")
    return spec


def check(case: CaseCore, action: str, data: Action) -> None:
    """Raise InvalidAction if `action` does not fit the case now; never changes anything."""
    spec = spec_for(action)
    if not isinstance(data, spec.model):
        raise InvalidAction(f"{action} takes {spec.model.__name__}, not {type(data).__name__}")
    status = case.state.status
    if status not in spec.allowed:
        raise InvalidAction(
            f"{action} is not allowed while the case is {status.value} "
            f"(allowed: {', '.join(sorted(s.value for s in spec.allowed))})"
        )
    if spec.check is not None:
        spec.check(case, data)


def apply(case: CaseCore, action: str, data: Action, now: datetime) -> None:
    check(case, action, data)
    spec_for(action).handler(case, data, now)
