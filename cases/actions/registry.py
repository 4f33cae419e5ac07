"""The action registry: for each action, its model, the statuses it is allowed in, and its handler.

This table is the one place an action is wired. The workflow's named update methods, the
client's validation and the raw-payload reader all look an action up here, so adding one means
its model (`cases/models.py`), its row below, its handler (`cases/actions/handlers.py`) and its update
method on the workflow, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from cases.actions import conversation, review
from cases.actions import handlers as h
from cases.core.moves import CaseCore, InvalidAction
from cases.fulfilment import legs
from cases.fulfilment.actions import (
    AgentReply,
    CustomerMessage,
    InspectionResult,
    RepairResult,
    ReturnReceived,
    ReturnShipped,
)
from cases.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Acknowledge,
    Action,
    Approve,
    Assign,
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

A = TypeVar("A", bound=Action)

NOT_FINAL = frozenset(Status) - FINAL_STATUSES


@dataclass(frozen=True)
class ActionSpec(Generic[A]):
    model: type[A]
    allowed: frozenset[Status]
    handler: Callable[[CaseCore, A, datetime], None]
    # A rule beyond the status, checked by the update validator before anything changes.
    check: Callable[[CaseCore, A], None] | None = None


ACTIONS: Mapping[str, ActionSpec[Any]] = {
    "acknowledge": ActionSpec(Acknowledge, frozenset({Status.REGISTERED}), h.acknowledge),
    "assign": ActionSpec(Assign, NOT_FINAL, h.assign),
    "note": ActionSpec(Note, NOT_FINAL, h.note),
    "request_info": ActionSpec(
        RequestInfo, frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}), h.request_info
    ),
    "customer_reply": ActionSpec(
        CustomerReply, frozenset({Status.AWAITING_CUSTOMER}), h.customer_reply
    ),
    "reclassify": ActionSpec(Reclassify, OPEN_STATUSES, h.reclassify, h.check_reclassify),
    "propose_resolution": ActionSpec(
        ProposeResolution,
        # Also while a return is under way: the agent may change the plan (a parcel lost).
        frozenset({Status.REGISTERED, Status.ACKNOWLEDGED, Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT}),
        h.propose_resolution,
        h.check_propose_resolution,
    ),
    "approve": ActionSpec(Approve, frozenset({Status.AWAITING_APPROVAL}), h.approve, review.check_approve),
    "reject": ActionSpec(Reject, frozenset({Status.AWAITING_APPROVAL}), h.reject, review.check_reject),
    "confirm": ActionSpec(Confirm, frozenset({Status.AWAITING_CONFIRMATION}), h.confirm),
    "dispute": ActionSpec(Dispute, frozenset({Status.AWAITING_CONFIRMATION}), h.dispute),
    "rate": ActionSpec(Rate, frozenset({Status.AWAITING_RATING}), h.rate),
    "follow_up_result": ActionSpec(
        FollowUpResult, frozenset({Status.FOLLOW_UP}), h.follow_up_result
    ),
    "escalate": ActionSpec(Escalate, NOT_FINAL, h.escalate, h.check_escalate),
    "withdraw": ActionSpec(
        Withdraw, OPEN_STATUSES | {Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT}, h.withdraw
    ),
    "return_shipped": ActionSpec(
        ReturnShipped, frozenset({Status.AWAITING_RETURN}), legs.return_shipped
    ),
    "return_received": ActionSpec(
        ReturnReceived,
        frozenset({Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT}),
        legs.return_received,
    ),
    "inspection_result": ActionSpec(
        InspectionResult, frozenset({Status.INSPECTING}), legs.inspection_result
    ),
    "repair_result": ActionSpec(RepairResult, frozenset({Status.REPAIRING}), legs.repair_result),
    "agent_reply": ActionSpec(AgentReply, NOT_FINAL, conversation.agent_reply),
    "customer_message": ActionSpec(CustomerMessage, NOT_FINAL, conversation.customer_message),
}

ACTION_MODELS: Mapping[str, type[Action]] = {name: spec.model for name, spec in ACTIONS.items()}


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
