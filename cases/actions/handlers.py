"""What each action does to a case: one function per action, and the checks some need first.

Each handler takes the case (`CaseCore`), the action's validated model and the instant, and
changes the state through the core's moves, so every change leaves an audit event. The action
registry (`cases/actions/registry.py`) says which handler and check belong to which action.
"""

from __future__ import annotations

from datetime import datetime

from cases.actions import conversation
from cases.actions.roles import Role
from cases.clocks import sla
from cases.clocks.specs import HANDLING_CLOCKS
from cases.core.moves import HIGHEST_LEVEL, CaseCore, InvalidAction, iso
from cases.fulfilment import legs
from cases.intake.classification import classify
from cases.intervention.models import UNDECIDED
from cases.models import (
    Acknowledge,
    Approve,
    Assign,
    ClockName,
    Confirm,
    CustomerReply,
    Dispute,
    Escalate,
    FollowUpOutcome,
    FollowUpResult,
    Note,
    Proposal,
    ProposeResolution,
    Rate,
    Reclassify,
    Reject,
    RequestInfo,
    ResolutionType,
    ReviewDecision,
    Status,
    Withdraw,
)
from cases.platform import duties
from cases.routing import placement

# Resolution types whose amount is paid out (an exchange refunds the price difference).
MONEY_MOVING = frozenset(
    {ResolutionType.REFUND, ResolutionType.REFUND_ONLY, ResolutionType.RETURN_REFUND,
     ResolutionType.EXCHANGE, ResolutionType.COMPENSATION}
)


# -- checks beyond the status ---------------------------------------------------------------------


def check_escalate(m: CaseCore, data: Escalate) -> None:
    if m.state.escalation_level <= HIGHEST_LEVEL:
        raise InvalidAction("escalate: the case is already at level 1 (headquarters)")


def check_dispute(m: CaseCore, data: Dispute) -> None:
    found = m.state.intervention
    if found is not None and found.stage in UNDECIDED:
        raise InvalidAction("dispute: the platform is hearing this case; appeal its ruling instead")


def check_reclassify(m: CaseCore, data: Reclassify) -> None:
    if data.tier is None and data.category is None and data.flags is None:
        raise InvalidAction("reclassify needs at least one of tier, category, flags")


def check_propose_resolution(m: CaseCore, data: ProposeResolution) -> None:
    paid, order = m.state.paid_out, m.state.intake.order_amount
    if data.type in MONEY_MOVING and data.amount > order - paid:
        already = f" less the {paid} already paid" if paid else ""
        raise InvalidAction(f"propose_resolution.amount {data.amount} exceeds the order amount {order}{already}")
    if data.type == ResolutionType.REFUND_ONLY:
        legs.check_refund_only(m, data)
    duties.check_no_pending_request(m, data)


# -- handlers --------------------------------------------------------------------------------------


def acknowledge(m: CaseCore, data: Acknowledge, now: datetime) -> None:
    m.emit("acknowledged", data.actor, now, message=data.message)
    m.first_response(now)
    m.state.status = Status.ACKNOWLEDGED
    placement.acknowledged(m, data.actor)
    if m.state.handler is None:
        m.state.handler = data.actor


def assign(m: CaseCore, data: Assign, now: datetime) -> None:
    m.state.handler = data.handler
    if data.team is not None:
        m.state.team = data.team
    m.emit("assigned", data.actor, now, handler=data.handler, team=data.team)
    placement.taken(m, data.handler)


def note(m: CaseCore, data: Note, now: datetime) -> None:
    m.emit("note", data.actor, now, text=data.text)


def request_info(m: CaseCore, data: RequestInfo, now: datetime) -> None:
    m.emit("info_requested", data.actor, now, question=data.question)
    m.first_response(now)
    m.state.status = Status.AWAITING_CUSTOMER
    m.pause_clocks(now)
    m.notify_customer("info_request", now, "We need more information", data.question)


def customer_reply(m: CaseCore, data: CustomerReply, now: datetime) -> None:
    m.emit("customer_replied", data.actor, now, text=data.text)
    m.state.status = Status.ACKNOWLEDGED
    m.resume_clocks(now)
    conversation.reply_owed(m, now)


def reclassify(m: CaseCore, data: Reclassify, now: datetime) -> None:
    state = m.state
    intake = state.intake
    if data.category is not None or data.flags is not None:
        intake = intake.model_copy(
            update={
                "category": data.category or intake.category,
                "flags": data.flags or intake.flags,
            }
        )
        state.intake = intake
        state.category = intake.category
    old_tier = state.tier
    state.tier = data.tier or classify(intake, m.policy.complex_amount_threshold)
    placement.reroute(m)  # the policy's routing rules decide, and the roster moves it
    # A more serious tier starts higher up the ladder; a milder one never de-escalates.
    state.escalation_level = min(state.escalation_level, m.policy.start_level(state.tier))
    targets = m.targets()
    for name in HANDLING_CLOCKS:
        clock = state.clocks.get(name)
        if clock is not None:
            sla.retarget(clock, targets[name], m.policy.calendar, m.policy.warning_fraction)
    m.emit(
        "reclassified",
        data.actor,
        now,
        old_tier=old_tier.value,
        tier=state.tier.value,
        category=state.category.value,
        reason=data.reason,
        due={n.value: iso(c.due_at) for n, c in state.clocks.items() if sla.is_open(c)},
    )


def propose_resolution(m: CaseCore, data: ProposeResolution, now: datetime) -> None:
    state = m.state
    legs.abandon_return(m, now)
    m.first_response(now)
    state.proposals_made += 1
    needs_approval = m.policy.needs_approval(state.tier, data.type, data.amount)
    state.proposal = Proposal(
        type=data.type,
        amount=data.amount,
        note=data.note,
        proposed_by=data.actor,
        proposed_at=now,
        needs_approval=needs_approval,
        number=state.proposals_made,
        waive_return=data.waive_return,
        repair_mode=data.repair_mode,
    )
    state.review = None
    m.emit(
        "resolution_proposed",
        data.actor,
        now,
        type=data.type.value,
        amount=str(data.amount),
        needs_approval=needs_approval,
        number=state.proposals_made,
    )
    m.meet(ClockName.INITIAL_HANDLING, now)
    if needs_approval:
        state.status = Status.AWAITING_APPROVAL
        # A second approval in a round (a new proposal after a failed leg) keeps the first's row.
        m.start_clock(ClockName.APPROVAL, now)
        m.notify_supervisor(
            "approval_requested",
            now,
            f"Approval needed: {data.type.value} {data.amount} {state.intake.currency}",
        )
    else:
        legs.begin(m, now)


def _role(role: Role | None) -> dict[str, str]:
    # Only when given, so the events of cases from before roles are recorded as they were.
    return {"role": role.value} if role is not None else {}


def approve(m: CaseCore, data: Approve, now: datetime) -> None:
    m.state.review = ReviewDecision(approved=True, by=data.actor, at=now, note=data.note)
    m.emit("approved", data.actor, now, note=data.note, **_role(data.role))
    m.meet(ClockName.APPROVAL, now)
    legs.begin(m, now)


def reject(m: CaseCore, data: Reject, now: datetime) -> None:
    m.state.review = ReviewDecision(approved=False, by=data.actor, at=now, note=data.reason)
    m.emit("rejected", data.actor, now, reason=data.reason, **_role(data.role))
    m.meet(ClockName.APPROVAL, now)
    m.state.proposal = None
    m.state.status = Status.ACKNOWLEDGED


def confirm(m: CaseCore, data: Confirm, now: datetime) -> None:
    m.accept("confirmed", data.actor, now)


def dispute(m: CaseCore, data: Dispute, now: datetime) -> None:
    m.emit("disputed", data.actor, now, reason=data.reason)
    m.reopen(f"dispute: {data.reason}", now)


def rate(m: CaseCore, data: Rate, now: datetime) -> None:
    state = m.state
    state.rating = data.score
    state.rating_comment = data.comment
    state.survey_due_at = None
    m.emit("rated", data.actor, now, score=data.score, comment=data.comment)
    if data.score <= m.policy.low_rating_threshold:
        state.quality_review = True
        m.emit("quality_review_opened", "system", now, score=data.score)
        m.escalate(f"low satisfaction rating {data.score}", "system", now)
    m.after_rating(now)


def follow_up_result(m: CaseCore, data: FollowUpResult, now: datetime) -> None:
    follow_up = m.state.follow_up
    assert follow_up is not None
    follow_up.outcome = data.outcome
    follow_up.outcome_at = now
    m.emit("follow_up_result", data.actor, now, outcome=data.outcome.value, note=data.note)
    if data.outcome == FollowUpOutcome.RECURRED:
        m.reopen(f"problem recurred: {data.note}", now)
    else:
        m.close(now)


def escalate(m: CaseCore, data: Escalate, now: datetime) -> None:
    m.escalate(data.reason, data.actor, now)


def withdraw(m: CaseCore, data: Withdraw, now: datetime) -> None:
    m.emit("withdrawn", data.actor, now, reason=data.reason)
    m.stop_clocks(now)
    m.state.status = Status.WITHDRAWN
    m.state.closed_at = now
    m.end_intervention(now)
