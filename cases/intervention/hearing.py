"""Asking the platform to step in, the evidence, and the ruling (STANDARDS S16.1-S16.3).

The buyer may ask within its window after the merchant's rejection, or once a request has gone
unsettled for a day; the merchant or the platform may ask too. The merchant answers with its
evidence within its window; an arbiter may ask either party for more, within working hours, and
a party silent past its window is ruled on with the evidence there is. A ruling over the
platform's limit needs a second arbiter, and an appeal a different one. Pure functions over
`CaseCore`, like the action handlers.
"""

from __future__ import annotations

from datetime import datetime

from cases.actions.roles import Role
from cases.clocks import sla
from cases.core.moves import CaseCore, InvalidAction, NotAuthorized, iso
from cases.intervention import ruling as carrying
from cases.intervention.actions import Appeal as AppealAction
from cases.intervention.actions import AskIntervention, ConfirmRuling, RequestEvidence, Rule, SubmitEvidence
from cases.intervention.models import GOODS_DECISIONS, Evidence, Intervention, Party, Ruling, Stage
from cases.models import ClockName
from cases.platform.models import Answer
from cases.platform.policy import InterventionSnapshot

MORE_EVIDENCE = {Party.BUYER: ClockName.BUYER_MORE_EVIDENCE, Party.MERCHANT: ClockName.MERCHANT_MORE_EVIDENCE}
HEARD_BEFORE_RULING = frozenset({Stage.EVIDENCE, Stage.HEARING})


def rules(m: CaseCore) -> InterventionSnapshot:
    platform = m.policy.platform
    if platform is None or platform.intervention is None:
        raise InvalidAction("this case opened on rules that predate the platform's intervention")
    return platform.intervention


def current(m: CaseCore, action: str) -> Intervention:
    found = m.state.intervention
    if found is None or not found.open:
        raise InvalidAction(f"{action}: no intervention is open on this case")
    return found


def _party(actor: str, party: Party, role: Role | None = None) -> Party:
    """The party an action speaks for: the customer's link and the backends acting for the
    buyer (`system`) are the buyer, whatever the body says; staff are the merchant or the platform."""
    if actor == "customer" or role == Role.SYSTEM:
        return Party.BUYER
    return party


def _staff_claims_buyer(actor: str, party: Party, role: Role | None) -> bool:
    return role is not None and role != Role.SYSTEM and actor != "customer" and party == Party.BUYER


# -- asking ---------------------------------------------------------------------------------------


def check_ask(m: CaseCore, data: AskIntervention) -> None:
    windows = rules(m)
    if _staff_claims_buyer(data.actor, data.party, data.role):
        raise NotAuthorized("ask_intervention.party: staff ask as the merchant or the platform, not the buyer")
    state = m.state
    if state.intervention is not None:
        raise InvalidAction("ask_intervention: the platform has already stepped in on this case")
    request = state.request
    if request is None:
        raise InvalidAction("ask_intervention: the platform steps in on a buyer's request; there is none")
    now = m.now_hint
    if request.answer == Answer.REJECTED and request.answered_at is not None:
        ends = m.after(request.answered_at, windows.after_rejection)
        if now >= ends:
            raise InvalidAction(f"ask_intervention: the window after the merchant's rejection ended {iso(ends)}")
        return
    if state.resolution is not None:
        raise InvalidAction("ask_intervention: the request has been settled")
    opens = m.after(request.asked_at, windows.unsettled_after)
    if now < opens:
        raise InvalidAction(f"ask_intervention: the request is not yet unsettled; ask from {iso(opens)}")


def ask(m: CaseCore, data: AskIntervention, now: datetime) -> None:
    party = _party(data.actor, data.party, data.role)
    found = Intervention(asked_by=data.actor, party=party, asked_at=now, reason=data.reason)
    if data.references:
        found.evidence.append(Evidence(party=party, by=data.actor, at=now, references=list(data.references)))
    m.state.intervention = found
    m.emit("intervention_asked", data.actor, now, party=party.value, reason=data.reason,
           references=list(data.references), stage=int(found.stage))
    m.start_clock(ClockName.INTERVENTION_EVIDENCE, now)
    due = m.state.clocks[ClockName.INTERVENTION_EVIDENCE].due_at
    m.notify_customer(
        "intervention_asked", now, "The platform is stepping in",
        f"The platform will hear you and the merchant and rule on your request. The merchant gives its "
        f"side by {m.local(due) if due else '—'}.",
    )
    m.notify_supervisor("intervention_asked", now, f"Platform intervention asked by the {party.value}")


# -- evidence -------------------------------------------------------------------------------------


def check_evidence(m: CaseCore, data: SubmitEvidence) -> None:
    found = current(m, "submit_evidence")
    if found.stage not in HEARD_BEFORE_RULING:
        raise InvalidAction("submit_evidence: the arbiter has ruled; appeal instead")
    if _party(data.actor, data.party, data.role) == Party.PLATFORM:
        raise InvalidAction("submit_evidence.party: evidence comes from the buyer or the merchant")
    if _staff_claims_buyer(data.actor, data.party, data.role):
        raise NotAuthorized("submit_evidence.party: staff give the merchant's evidence, not the buyer's")


def submit_evidence(m: CaseCore, data: SubmitEvidence, now: datetime) -> None:
    found = current(m, "submit_evidence")
    party = _party(data.actor, data.party, data.role)
    found.evidence.append(Evidence(party=party, by=data.actor, at=now, references=list(data.references),
                                   text=data.text))
    m.emit("evidence_submitted", data.actor, now, party=party.value, references=list(data.references),
           text=data.text)
    if party == Party.MERCHANT and found.stage == Stage.EVIDENCE:
        m.meet(ClockName.INTERVENTION_EVIDENCE, now)
        _hearing(m, found, now)
    if party in found.awaited:
        found.awaited.remove(party)
        m.meet(MORE_EVIDENCE[party], now)


def _hearing(m: CaseCore, found: Intervention, now: datetime) -> None:
    found.stage = Stage.HEARING
    m.emit("intervention_stage", "system", now, stage=int(found.stage))
    m.notify_supervisor("intervention_hearing", now, "Intervention ready for an arbiter")


def evidence_window_ended(m: CaseCore, clock: ClockName, now: datetime) -> None:
    """A party stayed silent past its window: the arbiter goes on with the evidence there is."""
    found = m.state.intervention
    if found is None or not found.open:
        return
    if clock == ClockName.INTERVENTION_EVIDENCE and found.stage == Stage.EVIDENCE:
        m.emit("evidence_closed", "system", now, party=Party.MERCHANT.value, silent=True)
        _hearing(m, found, now)
        return
    for party, name in MORE_EVIDENCE.items():
        if name == clock and party in found.awaited:
            found.awaited.remove(party)
            m.emit("evidence_closed", "system", now, party=party.value, silent=True)


def check_request_evidence(m: CaseCore, data: RequestEvidence) -> None:
    found = current(m, "request_evidence")
    _arbiter("request_evidence", data.role)
    if found.stage != Stage.HEARING:
        raise InvalidAction("request_evidence: only while the arbiter hears the case")
    if data.party == Party.PLATFORM:
        raise InvalidAction("request_evidence.party: ask the buyer or the merchant")
    if data.party in found.awaited:
        raise InvalidAction(f"request_evidence.party: the {data.party.value} has been asked already")


def request_evidence(m: CaseCore, data: RequestEvidence, now: datetime) -> None:
    found = current(m, "request_evidence")
    found.awaited.append(data.party)
    clock = MORE_EVIDENCE[data.party]
    m.start_clock(clock, now)
    due = m.state.clocks[clock].due_at
    m.emit("evidence_requested", data.actor, now, party=data.party.value, question=data.question, due_at=iso(due),
           **_role(data.role))
    if data.party == Party.BUYER:
        m.notify_customer("evidence_requested", now, "The platform asks you for more",
                          f"{data.question} Please answer by {m.local(due) if due else '—'}.")


# -- the ruling -----------------------------------------------------------------------------------


def _role(role: Role | None) -> dict[str, str]:
    return {"role": role.value} if role is not None else {}


def _arbiter(action: str, role: Role | None) -> None:
    if role != Role.ARBITER:
        given = f", not {role.value}" if role is not None else ""
        raise NotAuthorized(f"{action}.role: an arbiter's{given}")


def check_rule(m: CaseCore, data: Rule) -> None:
    found = current(m, "rule")
    _arbiter("rule", data.role)
    if found.stage != Stage.HEARING:
        raise InvalidAction("rule: the case is not before an arbiter")
    if found.appealed_by is not None and data.actor in found.arbiters:
        raise NotAuthorized(f"rule: {data.actor} ruled on this intervention and cannot hear its appeal")
    left = m.state.intake.order_amount - m.state.paid_out
    if data.amount > left:
        raise InvalidAction(f"rule.amount: {data.amount} exceeds the {left} left of the order amount")


def rule(m: CaseCore, data: Rule, now: datetime) -> None:
    found = current(m, "rule")
    made = Ruling(decision=data.decision, amount=data.amount, reason=data.reason, by=data.actor, at=now,
                  appeal=found.appealed_by is not None)
    # What the ruling is worth: its money, or the goods an exchange or repair is about.
    worth = m.state.intake.order_amount if data.decision in GOODS_DECISIONS else data.amount
    second = worth > rules(m).second_arbiter_above
    m.emit("ruling_made", data.actor, now, decision=data.decision.value, amount=str(data.amount),
           reason=data.reason, needs_second=second, **_role(data.role))
    if second:
        found.pending, found.stage = made, Stage.SECOND_ARBITER
        m.emit("intervention_stage", "system", now, stage=int(found.stage))
        m.notify_supervisor("ruling_to_confirm", now, f"Ruling of {data.amount} needs a second arbiter")
        return
    carrying.ruled(m, found, made, now)


def check_confirm(m: CaseCore, data: ConfirmRuling) -> None:
    found = current(m, "confirm_ruling")
    _arbiter("confirm_ruling", data.role)
    if found.stage != Stage.SECOND_ARBITER or found.pending is None:
        raise InvalidAction("confirm_ruling: no ruling waits for a second arbiter")
    if data.actor == found.pending.by:
        raise NotAuthorized(f"confirm_ruling: {data.actor} made this ruling; a second arbiter must confirm it")
    if found.appealed_by is not None and data.actor in found.arbiters:
        raise NotAuthorized(f"confirm_ruling: {data.actor} ruled on this intervention before its appeal")


def confirm_ruling(m: CaseCore, data: ConfirmRuling, now: datetime) -> None:
    found = current(m, "confirm_ruling")
    assert found.pending is not None
    made = found.pending.model_copy(update={"confirmed_by": data.actor})
    found.pending = None
    m.emit("ruling_confirmed", data.actor, now, note=data.note, agree=data.agree, **_role(data.role))
    if not data.agree:
        # The second arbiter does not agree: the case goes back to be heard again.
        found.stage = Stage.HEARING
        m.emit("intervention_stage", "system", now, stage=int(found.stage))
        return
    carrying.ruled(m, found, made, now)


# -- the appeal -----------------------------------------------------------------------------------


def check_appeal(m: CaseCore, data: AppealAction) -> None:
    found = current(m, "appeal")
    party = _party(data.actor, data.party, data.role)
    if party == Party.PLATFORM or _staff_claims_buyer(data.actor, data.party, data.role):
        raise NotAuthorized("appeal.party: the buyer (from its link or a backend) or the merchant's staff appeal")
    ruling = found.ruling
    if ruling is None or found.final or found.appealed_by is not None:
        raise InvalidAction("appeal: there is no ruling open to appeal; an intervention is appealed once")
    if found.stage in (Stage.CARRIED_OUT, Stage.PLATFORM_PAID):
        raise InvalidAction("appeal: the ruling has been carried out")
    ends = m.after(ruling.at, rules(m).appeal_within)
    if m.now_hint >= ends:
        raise InvalidAction(f"appeal: the window to appeal ended {iso(ends)}")


def appeal(m: CaseCore, data: AppealAction, now: datetime) -> None:
    found = current(m, "appeal")
    party = _party(data.actor, data.party, data.role)
    found.appealed_by = party
    carry = m.state.clocks.get(ClockName.RULING_CARRY_OUT)
    if carry is not None:
        sla.stop(carry, now, m.policy.calendar)  # the ruling waits for the appeal's
    found.stage = Stage.HEARING
    m.emit("appealed", data.actor, now, party=party.value, reason=data.reason, stage=int(found.stage))
    m.notify_supervisor("intervention_appealed", now, f"Appealed by the {party.value}: a new arbiter hears it")
