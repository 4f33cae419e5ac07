"""The customer's view of their own case (STANDARDS S13.3): where it stands in plain words, what
happens next and by when, what they may do now, and a public timeline.

It is an allow-list: only the event types below reach the customer, each with a title written
for them, so a new internal event (a note, an escalation, an assignment) stays hidden until
someone decides otherwise. No actor id, staff name, team or escalation level is ever copied.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from cases.actions import ACTIONS
from cases.authority import CUSTOMER_ACTIONS
from cases.clocks import ClockName
from cases.models import CaseEvent, CaseState, Status


class PublicEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime
    title: str
    detail: str | None = None


class CustomerProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    status: Status
    headline: str
    next_step: str
    next_deadline: datetime | None = None
    actions_available: list[str]
    timeline: list[PublicEvent]


# (headline, next step); `{amount}` and `{plan}` come from the proposal or resolution.
_WORDS: dict[str, dict[Status, tuple[str, str]]] = {
    "en": {
        Status.REGISTERED: ("We have received your request.", "An agent will respond to you."),
        Status.ACKNOWLEDGED: ("An agent is working on your request.", "We will propose a solution."),
        Status.AWAITING_CUSTOMER: ("We need more information from you.", "Please answer our question."),
        Status.AWAITING_APPROVAL: ("A {plan} of {amount} is being reviewed.", "We will tell you the decision."),
        Status.RESOLVING: ("Your {plan} of {amount} has been approved and is being carried out.",
                           "We will tell you when it is done."),
        Status.AWAITING_RETURN: ("Your return is authorised.", "Please ship the item back before the window ends."),
        Status.RETURN_IN_TRANSIT: ("Your return parcel is on its way to us.", "We will inspect it when it arrives."),
        Status.INSPECTING: ("We have received your return and are inspecting it.",
                            "We will tell you the result."),
        Status.REPAIRING: ("Your repair is booked.", "We will tell you the result of the repair."),
        Status.AWAITING_CONFIRMATION: ("Your {plan} of {amount} is done.",
                                       "Please confirm the result, or tell us what is still wrong."),
        Status.AWAITING_RATING: ("Thank you for confirming.", "Please rate our service."),
        Status.FOLLOW_UP: ("Your case is resolved.", "We may contact you once more to check all is well."),
        Status.CLOSED: ("Your case is closed.", "Nothing more is needed from you."),
        Status.WITHDRAWN: ("Your request was withdrawn.", "Nothing more is needed from you."),
        Status.LAPSED: ("The return window ended before the item was shipped.", "Contact us to open a new request."),
    },
    "zh": {
        Status.REGISTERED: ("我们已收到您的售后申请。", "客服将尽快回复您。"),
        Status.ACKNOWLEDGED: ("客服正在处理您的申请。", "我们将为您提出解决方案。"),
        Status.AWAITING_CUSTOMER: ("我们需要您补充信息。", "请回复我们的问题。"),
        Status.AWAITING_APPROVAL: ("{amount}的{plan}方案正在复核。", "我们会告知您复核结果。"),
        Status.RESOLVING: ("{amount}的{plan}已获批准，正在执行。", "完成后我们会通知您。"),
        Status.AWAITING_RETURN: ("退货已获批准。", "请在退货期限内寄回商品。"),
        Status.RETURN_IN_TRANSIT: ("您的退货包裹正在寄回途中。", "收到后我们将进行检测。"),
        Status.INSPECTING: ("我们已收到退货，正在检测。", "我们会告知您检测结果。"),
        Status.REPAIRING: ("维修已预约。", "我们会告知您维修结果。"),
        Status.AWAITING_CONFIRMATION: ("{amount}的{plan}已完成。", "请确认处理结果，或告诉我们仍存在的问题。"),
        Status.AWAITING_RATING: ("感谢您的确认。", "请为我们的服务评分。"),
        Status.FOLLOW_UP: ("您的问题已解决。", "我们可能会再次回访，确认一切正常。"),
        Status.CLOSED: ("您的售后单已关闭。", "无需您再做任何操作。"),
        Status.WITHDRAWN: ("您的申请已撤回。", "无需您再做任何操作。"),
        Status.LAPSED: ("退货期限已过，商品未寄回。", "如需帮助，请重新提交申请。"),
    },
}

_PLANS = {
    "en": {"refund": "refund", "refund_only": "refund", "return_refund": "return and refund",
           "exchange": "exchange", "repair": "repair", "compensation": "compensation",
           "explanation": "reply", "coupon": "coupon"},
    "zh": {"refund": "退款", "refund_only": "仅退款", "return_refund": "退货退款", "exchange": "换货",
           "repair": "维修", "compensation": "补偿", "explanation": "答复", "coupon": "优惠券"},
}

# Event type -> (title in English, title in Chinese). Only these are public.
_PUBLIC: dict[str, tuple[str, str]] = {
    "opened": ("Request received", "已受理"),
    "acknowledged": ("An agent responded", "客服已响应"),
    "info_requested": ("We asked for more information", "需要补充信息"),
    "customer_replied": ("You sent the information", "您已补充信息"),
    "agent_replied": ("Reply from customer service", "客服回复"),
    "customer_message": ("Your message", "您的留言"),
    "resolution_proposed": ("Solution proposed", "已提出解决方案"),
    "approved": ("Solution approved", "方案已批准"),
    "rejected": ("We are preparing a new proposal", "正在重新制定方案"),
    "return_authorized": ("Return authorised", "退货已授权"),
    "return_shipped": ("Return shipped", "退货已寄出"),
    "return_received": ("Return received", "退货已收到"),
    "inspection_result": ("Return inspected", "退货检测完成"),
    "repair_booked": ("Repair booked", "维修已预约"),
    "repair_result": ("Repair finished", "维修完成"),
    "resolution_executed": ("Solution carried out", "方案已执行"),
    "confirmed": ("You confirmed the result", "您已确认结果"),
    "accepted_by_silence": ("Result taken as confirmed", "结果视为已确认"),
    "disputed": ("You disputed the result", "您对结果提出异议"),
    "rated": ("You rated our service", "您已评价"),
    "closed": ("Case closed", "售后单已关闭"),
    "withdrawn": ("Request withdrawn", "申请已撤回"),
    "return_lapsed": ("Return window ended", "退货期限已过"),
}

# Of an event's data, only what the customer gave or must know, never who on our side did it.
_DETAIL_KEYS = ("text", "question", "rma", "tracking_number", "result", "reference", "scheduled_for",
                "score", "refund_reference", "replacement_tracking", "coupon_code", "repair_record")

# The deadline that matters to the customer in each status: ours to answer, or theirs to act by.
_CLOCK_FOR: dict[Status, tuple[ClockName, ...]] = {
    Status.REGISTERED: (ClockName.FIRST_RESPONSE,),
    Status.ACKNOWLEDGED: (ClockName.NEXT_REPLY, ClockName.RESOLUTION),
    Status.AWAITING_APPROVAL: (ClockName.RESOLUTION,),
    Status.RESOLVING: (ClockName.RESOLUTION,),
    Status.AWAITING_RETURN: (ClockName.RETURN_WINDOW,),
    Status.RETURN_IN_TRANSIT: (ClockName.RETURN_TRANSIT,),
    Status.INSPECTING: (ClockName.INSPECTION,),
    Status.REPAIRING: (ClockName.REPAIR,),
}


def customer_progress(
    state: CaseState, events: list[CaseEvent], now: datetime, language: str = "en"
) -> CustomerProgress:
    lang = language if language in _WORDS else "en"
    headline, step = _WORDS[lang][state.status]
    return CustomerProgress(
        case_id=state.case_id,
        status=state.status,
        headline=headline.format(**_amounts(state, lang)),
        next_step=step,
        next_deadline=_deadline(state, now),
        actions_available=sorted(a for a in CUSTOMER_ACTIONS if state.status in ACTIONS[a].allowed),
        timeline=[_public(e, lang) for e in sorted(events, key=lambda e: e.seq) if e.type in _PUBLIC],
    )


def _amounts(state: CaseState, lang: str) -> dict[str, str]:
    chosen = state.resolution or state.proposal
    if chosen is None:
        return {"plan": _PLANS[lang]["refund"], "amount": "—"}
    return {"plan": _PLANS[lang].get(chosen.type.value, chosen.type.value),
            "amount": f"{chosen.amount} {state.intake.currency}"}


def _deadline(state: CaseState, now: datetime) -> datetime | None:
    if state.status == Status.AWAITING_CONFIRMATION:
        return state.confirmation_due_at
    if state.status == Status.AWAITING_RATING:
        return state.survey_due_at
    for name in _CLOCK_FOR.get(state.status, ()):
        clock = state.clocks.get(name)
        if clock is not None and clock.due_at is not None and clock.stopped_at is None:
            return clock.due_at
    return None


def _public(event: CaseEvent, lang: str) -> PublicEvent:
    english, chinese = _PUBLIC[event.type]
    data = dict(event.data)
    if event.type == "resolution_executed":
        proof = data.get("proof") or {}
        data = {k: v for k, v in (proof.items() if isinstance(proof, dict) else ())}
    details = [f"{data[k]}" for k in _DETAIL_KEYS if isinstance(data.get(k), str | int) and data.get(k) != ""]
    return PublicEvent(
        at=event.at,
        title=english if lang == "en" else chinese,
        detail=" · ".join(details)[:4000] or None,
    )
