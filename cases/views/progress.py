"""The customer's view of their own case (STANDARDS S13.3): where it stands in plain words, what
happens next, who acts and by when, what they may do now, and a public timeline.

The timeline is an allow-list: only the event types in `PUBLIC` reach the customer, each with a
title written for them and only the data fields named there, so a new internal event (a note, an
escalation, an assignment) stays hidden until someone decides otherwise. No actor id, staff
name, team, escalation level, SLA warning or reviewer's note is ever copied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cases.actions import labels as lb
from cases.actions.labels import Label, Language, Reader, what
from cases.actions.registry import ACTIONS, CUSTOMER_ACTIONS
from cases.clocks import sla
from cases.clocks.specs import ClockName
from cases.intervention.models import UNDECIDED, Stage
from cases.models import MUST_PAY, CaseEvent, CaseState, ResolutionType, Status

WaitingOn = Literal["customer", "us"]


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
    # Whose move it is; None once nothing more is expected of anyone.
    waiting_on: WaitingOn | None = None
    next_deadline: datetime | None = None
    actions_available: list[str]
    timeline: list[PublicEvent]


# (headline, next step, who acts). `{by}` is the deadline in words, or nothing when there is
# none; `{what}`, `{doing}`, `{rma}`, `{proof}` and `{visit}` come from the case.
_US: WaitingOn = "us"
_THEM: WaitingOn = "customer"
_WORDS: dict[Language, dict[Status, tuple[str, str, WaitingOn | None]]] = {
    "en": {
        Status.REGISTERED: ("We have received your request and an agent will respond{by}.",
                            "An agent reviews your request and replies to you.", _US),
        Status.ACKNOWLEDGED: ("An agent is working on your request and will get back to you{by}.",
                              "We will propose a solution, or ask you for anything we still need.", _US),
        Status.AWAITING_CUSTOMER: ("We need more information from you before we can continue.",
                                   "Please answer our question; your case waits for your reply.", _THEM),
        Status.AWAITING_APPROVAL: ("We have proposed a {what}, and it is being reviewed.",
                                   "We will tell you the decision{by}.", _US),
        Status.RESOLVING: ("Your {what} has been approved and is being {doing}.",
                           "We will tell you when it is done{by}.", _US),
        Status.AWAITING_RETURN: ("We are waiting for your return parcel (return number {rma}).",
                                 "Please ship the item back{by}, and tell us the carrier and tracking "
                                 "number.", _THEM),
        Status.RETURN_IN_TRANSIT: ("Your return parcel is on its way to us.",
                                   "We will inspect the item when it arrives.", _US),
        Status.INSPECTING: ("We have received your return and are inspecting it.",
                            "We will tell you the result{by}.", _US),
        Status.REPAIRING: ("We are arranging your repair.", "We will tell you the appointment{by}.", _US),
        Status.AWAITING_CONFIRMATION: ("Your {what} has been carried out{proof}.",
                                       "Please confirm the result or dispute it{by}; if we do not hear "
                                       "from you, we take it as confirmed.", _THEM),
        Status.AWAITING_RATING: ("Thank you for confirming the result.",
                                 "Please rate our service from 1 to 5{by}.", _THEM),
        Status.FOLLOW_UP: ("Your case is resolved.", "We will contact you once more to check all is well{by}.",
                           _US),
        Status.CLOSED: ("Your case is closed.", "Nothing more is needed from you.", None),
        Status.WITHDRAWN: ("Your request was withdrawn.", "Nothing more is needed from you.", None),
        Status.LAPSED: ("Your return was not shipped within the return window, so the case is closed.",
                        "Contact us if you still need help.", None),
    },
    "zh": {
        Status.REGISTERED: ("我们已收到您的售后申请，客服将尽快回复您{by}。", "客服将审核您的申请并回复您。", _US),
        Status.ACKNOWLEDGED: ("客服正在处理您的申请，将尽快答复您{by}。",
                              "我们将为您提出解决方案，或向您了解所需信息。", _US),
        Status.AWAITING_CUSTOMER: ("我们需要您补充信息后才能继续处理。",
                                   "请回复我们的问题，您的售后单正在等待您的回复。", _THEM),
        Status.AWAITING_APPROVAL: ("我们已为您提出{what}方案，正在复核。", "我们会告知您复核结果{by}。", _US),
        Status.RESOLVING: ("您的{what}已获批准，正在{doing}。", "完成后我们会通知您{by}。", _US),
        Status.AWAITING_RETURN: ("我们正在等待您寄回商品（退货单号 {rma}）。",
                                 "请寄回商品{by}，并告诉我们快递公司和运单号。", _THEM),
        Status.RETURN_IN_TRANSIT: ("您的退货包裹正在寄回途中。", "商品到达后我们将进行检测。", _US),
        Status.INSPECTING: ("我们已收到您的退货，正在检测。", "我们会告知您检测结果{by}。", _US),
        Status.REPAIRING: ("我们正在为您安排维修。", "我们会告知您维修预约时间{by}。", _US),
        Status.AWAITING_CONFIRMATION: ("您的{what}已完成{proof}。",
                                       "请确认处理结果或提出异议{by}；逾期未回复将视为确认。", _THEM),
        Status.AWAITING_RATING: ("感谢您确认处理结果。", "请为我们的服务打1–5分{by}。", _THEM),
        Status.FOLLOW_UP: ("您的问题已解决。", "我们会再回访一次，确认一切正常{by}。", _US),
        Status.CLOSED: ("您的售后单已关闭。", "无需您再做任何操作。", None),
        Status.WITHDRAWN: ("您的申请已撤回。", "无需您再做任何操作。", None),
        Status.LAPSED: ("退货未在期限内寄出，售后单已关闭。", "如仍需帮助，请联系我们。", None),
    },
}

# A booked repair has a visit to name; before the booking the case waits on the repair partner.
_REPAIR_BOOKED: dict[Language, tuple[str, str]] = {
    "en": ("Your repair is booked for {visit}.", "We will tell you the result of the repair."),
    "zh": ("您的维修已预约在 {visit}。", "我们会告知您维修结果。"),
}

# A buyer's request waiting for the merchant's answer (STANDARDS S15.4).
_ASKED: dict[Language, tuple[str, str]] = {
    "en": ("Your request ({asked}) is with the merchant, who must answer{by}.",
           "If the merchant does not answer in time, your request is agreed."),
    "zh": ("您的{asked}申请已提交商家，商家须在期限内答复{by}。", "商家逾期未答复的，您的申请将自动同意。"),
}

# While the platform steps in (STANDARDS S16), by stage; the deadline is the clock named.
_INTERVENING: dict[Language, dict[Stage, tuple[str, str]]] = {
    "en": {
        Stage.EVIDENCE: ("The platform is stepping in: the merchant gives its side{by}.",
                         "The platform then hears both sides and rules."),
        Stage.HEARING: ("The platform is hearing your case.", "An arbiter will rule, or ask you for more."),
        Stage.SECOND_ARBITER: ("The platform has reached a ruling, and a second arbiter is checking it.",
                               "We will tell you the ruling."),
        Stage.CARRYING_OUT: ("The platform has ruled for you; the merchant carries the ruling out{by}.",
                             "If it does not, the platform pays you first."),
        Stage.REJECTED: ("The platform has ruled for the merchant.", "You may appeal once, within the appeal window."),
    },
    "zh": {
        Stage.EVIDENCE: ("平台已介入：商家须在期限内提交说明{by}。", "平台随后听取双方意见并作出裁决。"),
        Stage.HEARING: ("平台正在审理您的申请。", "仲裁员将作出裁决，或请您补充凭证。"),
        Stage.SECOND_ARBITER: ("平台已形成裁决，正由第二位仲裁员复核。", "我们会告知您裁决结果。"),
        Stage.CARRYING_OUT: ("平台已支持您的申请，商家须在期限内执行裁决{by}。", "商家逾期未执行的，平台将先行赔付。"),
        Stage.REJECTED: ("平台已驳回您的申请。", "您可在申诉期内申诉一次。"),
    },
}
_INTERVENTION_CLOCK = {Stage.EVIDENCE: ClockName.INTERVENTION_EVIDENCE, Stage.CARRYING_OUT: ClockName.RULING_CARRY_OUT}

_BY: dict[Language, str] = {"en": " by {due}", "zh": "（最晚 {due}）"}
_DOING: dict[Language, tuple[str, str]] = {"en": ("paid", "carried out"), "zh": ("支付", "执行")}

# The proof of what was done that the customer may quote back to us or to their bank.
_PROOF: dict[Language, dict[str, str]] = {
    "en": {"refund_reference": "refund reference", "replacement_tracking": "tracking number",
           "coupon_code": "coupon code", "repair_record": "repair record", "repair_booking": "repair booking"},
    "zh": {"refund_reference": "退款单号", "replacement_tracking": "运单号", "coupon_code": "优惠券码",
           "repair_record": "维修记录", "repair_booking": "维修预约号"},
}

def _opened(data: dict[str, Any], r: Reader) -> list[str]:
    order = data.get("order_id")
    return [f"{'订单' if r.lang == 'zh' else 'Order'} {order}"] if isinstance(order, str) else []


def _executed(data: dict[str, Any], r: Reader) -> list[str]:
    proof = data.get("proof")
    shown = proof if isinstance(proof, dict) else {}
    return lb.plan(data, r) + [f"{label} {shown[k]}" for k, label in _PROOF[r.lang].items()
                               if isinstance(shown.get(k), str)]


def _booked(data: dict[str, Any], r: Reader) -> list[str]:
    at = data.get("scheduled_for")
    try:
        when = [_when(datetime.fromisoformat(at), None)] if isinstance(at, str) else []
    except ValueError:
        when = []
    return when + lb.fields("reference")(data, r)


# The case's own events the customer sees; an action's event is labelled on its spec
# (`cases/actions/registry.py`). Only these are public: the texts shown are the customer's own
# words or words addressed to them.
_CASE_EVENTS: dict[str, Label] = {
    "opened": Label("Request received", "已受理", _opened),
    "return_authorized": Label("Return authorised", "退货已授权", lb.fields("rma")),
    "return_abandoned": Label("Return no longer needed", "无需退货", lb.fields("rma")),
    "repair_requested": Label("Repair being arranged", "正在安排维修"),
    "repair_booked": Label("Repair booked", "维修已预约", _booked),
    "resolution_executed": Label("Solution carried out", "方案已执行", _executed),
    "accepted_by_silence": Label("Result taken as confirmed", "结果视为已确认"),
    "reopened": Label("We are looking at your case again", "售后单已重新处理"),
    "closed": Label("Case closed", "售后单已关闭"),
    "return_lapsed": Label("Return window ended", "退货期限已过", lb.fields("rma")),
    "request_agreed_by_silence": Label("The merchant did not answer in time: your request is agreed",
                                       "商家超时未处理，您的申请已自动同意"),
    "ruled": Label("The platform has ruled", "平台已作出裁决", lb.ruling),
    "platform_pays_first": Label("The platform refunded you first", "平台已先行赔付"),
    "ruling_final": Label("The ruling is final", "裁决已生效"),
    "intervention_closed": Label("The platform's intervention has ended", "平台介入已结束"),
}
PUBLIC: dict[str, Label] = _CASE_EVENTS | {
    spec.event: spec.label for spec in ACTIONS.values() if spec.label is not None
}

# The clocks whose due time is a promise to the customer (ours to answer), or their own window,
# in each status; the earliest one still ahead is the deadline shown.
_CLOCK_FOR: dict[Status, tuple[ClockName, ...]] = {
    Status.REGISTERED: (ClockName.FIRST_RESPONSE, ClockName.NEXT_REPLY),
    Status.ACKNOWLEDGED: (ClockName.NEXT_REPLY, ClockName.RESOLUTION),
    Status.AWAITING_APPROVAL: (ClockName.NEXT_REPLY, ClockName.RESOLUTION),
    Status.RESOLVING: (ClockName.RESOLUTION,),
    Status.AWAITING_RETURN: (ClockName.RETURN_WINDOW,),
    Status.INSPECTING: (ClockName.INSPECTION,),
    Status.REPAIRING: (ClockName.REPAIR,),
}


def customer_progress(
    state: CaseState, events: list[CaseEvent], now: datetime, language: str = "en"
) -> CustomerProgress:
    lang: Language = "zh" if language.lower().split("-")[0] == "zh" else "en"
    headline, step, waiting_on = _WORDS[lang][state.status]
    deadline = _deadline(state, now)
    repair = state.repair
    if state.status == Status.REPAIRING and repair is not None and repair.scheduled_for is not None:
        headline, step = _REPAIR_BOOKED[lang]
    asked = state.request if state.request is not None and state.request.pending else None
    if asked is not None and state.status in (Status.REGISTERED, Status.ACKNOWLEDGED):
        headline, step = _ASKED[lang]
        answer = state.clocks.get(ClockName.MERCHANT_ANSWER)
        deadline = answer.due_at if answer is not None and answer.due_at and answer.due_at > now else None
    found = state.intervention
    if found is not None and found.stage in _INTERVENING[lang]:
        headline, step = _INTERVENING[lang][found.stage]
        named = _INTERVENTION_CLOCK.get(found.stage)
        clock = state.clocks.get(named) if named is not None else None
        deadline = clock.due_at if clock is not None and clock.due_at and clock.due_at > now else None
    values = _values(state, lang, deadline, now)
    if asked is not None:
        values["asked"] = what(ResolutionType(asked.remedy.value), asked.amount, state.intake.currency, lang)
    reader = Reader(lang, state.intake.currency)
    return CustomerProgress(
        case_id=state.case_id,
        status=state.status,
        headline=headline.format_map(values),
        next_step=step.format_map(values),
        waiting_on=waiting_on,
        next_deadline=deadline,
        actions_available=sorted(
            a for a in CUSTOMER_ACTIONS if state.status in ACTIONS[a].allowed and _offered(state, a)
        ),
        timeline=[_public(e, reader) for e in sorted(events, key=lambda e: e.seq) if e.type in PUBLIC],
    )


def _offered(state: CaseState, action: str) -> bool:
    """The intervention's actions, where the case is at the point they fit (STANDARDS S16)."""
    found = state.intervention
    if action == "request_remedy":
        return found is None or found.stage not in UNDECIDED
    if action == "ask_intervention":
        return state.request is not None and found is None
    if action == "submit_evidence":
        return found is not None and found.stage in (Stage.EVIDENCE, Stage.HEARING)
    if action == "appeal":
        return found is not None and found.stage in (Stage.CARRYING_OUT, Stage.REJECTED) and not (
            found.final or found.appealed_by
        )
    return True


def _values(state: CaseState, lang: Language, deadline: datetime | None, now: datetime) -> dict[str, str]:
    chosen = state.resolution or state.proposal
    proof = state.resolution.proof if state.resolution else {}
    shown = [f"{label} {proof[k]}" for k, label in _PROOF[lang].items() if k in proof]
    open_paren, close_paren = ("（", "）") if lang == "zh" else (" (", ")")
    repair = state.repair
    return {
        "by": _BY[lang].format(due=_when(deadline, now)) if deadline else "",
        "what": what(chosen.type, chosen.amount, state.intake.currency, lang) if chosen
        else ("解决方案" if lang == "zh" else "solution"),
        "doing": _DOING[lang][0 if chosen and chosen.type in MUST_PAY else 1],
        "rma": state.return_leg.rma if state.return_leg else "—",
        "proof": f"{open_paren}{'; '.join(shown)}{close_paren}" if shown else "",
        "visit": _when(repair.scheduled_for, now) if repair and repair.scheduled_for else "—",
    }


def _when(at: datetime | None, now: datetime | None) -> str:
    """UTC, the same in both languages; the app can show `next_deadline` in local time itself."""
    if at is None:
        return "—"
    utc = at.astimezone(UTC)
    if now is not None and utc.date() == now.astimezone(UTC).date():
        return utc.strftime("%H:%M UTC")
    return utc.strftime("%Y-%m-%d %H:%M UTC")


def _deadline(state: CaseState, now: datetime) -> datetime | None:
    """The next due time the customer is waiting for or must meet; a past one says nothing."""
    candidates: list[datetime | None]
    if state.status == Status.AWAITING_CONFIRMATION:
        candidates = [state.confirmation_due_at]
    elif state.status == Status.AWAITING_RATING:
        candidates = [state.survey_due_at]
    elif state.status == Status.FOLLOW_UP:
        candidates = [state.follow_up.scheduled_for if state.follow_up else None]
    elif state.status == Status.REPAIRING and state.repair is not None and state.repair.scheduled_for:
        candidates = [state.repair.scheduled_for]
    else:
        clocks = [state.clocks.get(name) for name in _CLOCK_FOR.get(state.status, ())]
        candidates = [c.due_at for c in clocks if c is not None and sla.is_open(c) and c.paused_at is None]
    ahead = [at for at in candidates if at is not None and at > now]
    return min(ahead) if ahead else None


def _public(event: CaseEvent, reader: Reader) -> PublicEvent:
    label = PUBLIC[event.type]
    shown = " · ".join(label.shown(dict(event.data), reader))
    return PublicEvent(at=event.at, title=label.title(reader.lang), detail=shown[:4000] or None)

