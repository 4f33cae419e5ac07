"""The buyer's request and the merchant's answer, with the deadline where silence decides.

A request (at intake or on an open case) is read against the law (`law.assess`) and starts the
merchant's answer clock. The merchant agrees, or rejects with a reason; a rejection of a request
the law entitles is refused, naming the rule, and the attempt stays in the trail. Silence past
the clock agrees: a refund-only request is refunded, a return or exchange is authorised to the
merchant's return address (STANDARDS S15.4). An agreement starts the plan the buyer asked for,
as an approved proposal would: the buyer proposed it and the merchant (or its silence) approved
it. Pure functions over `CaseCore`, like the action handlers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cases.core.moves import CaseCore, InvalidAction, NotAuthorized
from cases.fulfilment import legs
from cases.intervention.models import UNDECIDED
from cases.models import ClockName, Proposal, ProposeResolution, ResolutionType, ReviewDecision
from cases.platform import law
from cases.platform.actions import Decision, MerchantAnswer, RemedyRequest
from cases.platform.models import Answer, BuyerRequest, ItemRepairs, OrderFacts, Remedy, RequestState

# Remedies that pay the buyer: the order amount unless the request names less.
MONEY_REMEDIES = frozenset({Remedy.REFUND_ONLY, Remedy.RETURN_REFUND})

WORDS = {
    Remedy.REFUND_ONLY: ("a refund", "仅退款"),
    Remedy.RETURN_REFUND: ("a return and refund", "退货退款"),
    Remedy.EXCHANGE: ("an exchange", "换货"),
    Remedy.REPAIR: ("a repair", "维修"),
}


def pending(m: CaseCore) -> RequestState | None:
    request = m.state.request
    return request if request is not None and request.pending else None


def left_to_pay(m: CaseCore) -> Decimal:
    """The order amount less what earlier rounds of the case paid the buyer."""
    return m.state.intake.order_amount - m.state.paid_out


def amount_of(m: CaseCore, request: BuyerRequest) -> Decimal:
    if request.amount is not None:
        return request.amount
    return left_to_pay(m) if request.remedy in MONEY_REMEDIES else Decimal("0")


def item_to_read(m: CaseCore, request: BuyerRequest) -> tuple[str, str] | None:
    """The item whose repairs the law counts, read again for each request: this case's own
    earlier rounds may have repaired it since."""
    facts = request.order or m.state.order
    return facts.item if facts is not None else None


def check_request(m: CaseCore, data: BuyerRequest) -> None:
    if m.policy.platform is None:
        raise InvalidAction("request_remedy: this case opened on rules that predate buyer requests")
    if pending(m) is not None:
        raise InvalidAction("request_remedy: the buyer's earlier request still waits for the merchant's answer")
    found = m.state.intervention
    if found is not None and found.stage in UNDECIDED:
        raise InvalidAction("request_remedy: the platform is deciding the buyer's request; wait for its ruling")
    why = data.beyond(left_to_pay(m))
    if why is not None:
        paid = m.state.paid_out
        raise InvalidAction(f"request_remedy.{why}" + (f" less the {paid} already paid" if paid else ""))


def request_remedy(m: CaseCore, data: RemedyRequest, now: datetime) -> None:
    ask(m, data, data.actor, now)


def ask(m: CaseCore, request: BuyerRequest, actor: str, now: datetime, *, at_open: bool = False) -> None:
    state, platform = m.state, m.policy.platform
    assert platform is not None
    if request.order is not None:
        state.order = request.order
    repairs = _repairs_of(state.item_repairs, state.order)
    eligibility = law.assess(request, state.order, repairs, now, m.policy.calendar, platform)
    amount = amount_of(m, request)
    state.request = RequestState(
        remedy=request.remedy, reason=request.reason, amount=amount, note=request.note,
        asked_by=actor, asked_at=now, eligibility=eligibility,
    )
    given = {"order": request.order.model_dump(mode="json")} if request.order is not None else {}
    m.emit(
        "remedy_requested", actor, now, remedy=request.remedy.value, reason=request.reason.value,
        amount=str(amount), note=request.note, rule=eligibility.rule,
        entitled=[r.value for r in eligibility.entitled], prior_repairs=repairs,
        verdicts=[v.model_dump(mode="json") for v in eligibility.verdicts],
        **given, **({"at_open": True} if at_open else {}),
    )
    m.start_clock(ClockName.MERCHANT_ANSWER, now)
    due = state.clocks[ClockName.MERCHANT_ANSWER].due_at
    assert due is not None
    entitled = f" The law entitles you to it ({law.SOURCES[eligibility.rule]})." if eligibility.rule else ""
    m.notify_customer(
        "request_received", now, "Your request is with the merchant",
        f"You asked for {WORDS[request.remedy][0]}. The merchant must answer by {m.local(due)}; "
        f"if it does not, your request is agreed.{entitled}",
        remedy=request.remedy.value, rule=eligibility.rule,
    )


def _repairs_of(known: ItemRepairs | None, facts: OrderFacts | None) -> int:
    item = facts.item if facts is not None else None
    if known is None or item is None or (known.sku, known.serial) != item:
        return 0
    return known.repairs


def check_answer(m: CaseCore, data: MerchantAnswer) -> None:
    request = pending(m)
    if request is None:
        raise InvalidAction("answer_request: no buyer request waits for an answer")
    if data.actor == request.asked_by:
        raise NotAuthorized(f"answer_request: {data.actor} made this request and cannot answer it (four-eyes)")


def check_no_pending_request(m: CaseCore, data: ProposeResolution) -> None:
    if pending(m) is not None:
        raise InvalidAction(
            "propose_resolution: the buyer's request waits for the merchant's answer; send answer_request first"
        )


def answer_request(m: CaseCore, data: MerchantAnswer, now: datetime) -> None:
    request = pending(m)
    assert request is not None
    if data.decision == Decision.AGREE:
        _agree(m, request, Answer.AGREED, data.actor, now)
        return
    rule = request.eligibility.rule
    if rule is not None:
        # Unlike other refusals, the attempt is recorded, so the platform sees who tried; the
        # case itself does not change.
        m.emit(
            "rejection_refused", data.actor, now, rule=rule, remedy=request.remedy.value,
            decision=data.decision.value, reason=data.reason,
        )
        raise NotAuthorized(
            f"answer_request.decision: the buyer is entitled to {WORDS[request.remedy][0]} under "
            f"{law.SOURCES[rule]}; a merchant may not refuse it"
        )
    request.answer, request.answered_by, request.answered_at = Answer.REJECTED, data.actor, now
    request.rejection = data.reason
    m.emit("request_answered", data.actor, now, decision=data.decision.value, reason=data.reason)
    m.meet(ClockName.MERCHANT_ANSWER, now)
    m.first_response(now)
    m.notify_customer(
        "request_rejected", now, "The merchant declined your request",
        f"The merchant declined {WORDS[request.remedy][0]}: {data.reason}. "
        "If you do not agree, you may ask the platform to step in.",
    )


def agreed_by_silence(m: CaseCore, now: datetime) -> None:
    """The merchant's answer clock ran out: the request is agreed, by the platform's rule."""
    request = pending(m)
    if request is not None:
        _agree(m, request, Answer.AGREED_BY_SILENCE, "system", now)


def _agree(m: CaseCore, request: RequestState, how: Answer, actor: str, now: datetime) -> None:
    state = m.state
    request.answer, request.answered_by, request.answered_at = how, actor, now
    if how == Answer.AGREED:
        m.emit("request_answered", actor, now, decision=Decision.AGREE.value, reason="")
        m.first_response(now)
    else:
        m.emit("request_agreed_by_silence", actor, now, remedy=request.remedy.value, amount=str(request.amount))
    m.meet(ClockName.MERCHANT_ANSWER, now)
    state.proposals_made += 1
    state.proposal = Proposal(
        type=ResolutionType(request.remedy.value), amount=request.amount,
        note=request.note or f"the buyer's request ({request.reason.value})",
        proposed_by=request.asked_by, proposed_at=request.asked_at, number=state.proposals_made,
        waive_return=request.remedy == Remedy.REFUND_ONLY,
    )
    how_agreed = "the merchant agreed" if how == Answer.AGREED else "the merchant did not answer in time"
    state.review = ReviewDecision(approved=True, by=actor, at=now, note=how_agreed)
    m.meet(ClockName.INITIAL_HANDLING, now)
    m.resume_clocks(now)  # staff may have been waiting on the buyer; the plan goes on now
    if how == Answer.AGREED_BY_SILENCE:
        m.notify_customer(
            "request_agreed", now, "Your request is agreed",
            f"The merchant did not answer in time, so your request for {WORDS[request.remedy][0]} is agreed.",
        )
    legs.begin(m, now)
