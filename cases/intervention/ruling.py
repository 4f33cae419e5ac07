"""Carrying a ruling out (STANDARDS S16.4-S16.5): the merchant within its window, else the
platform pays the buyer first and recovers the money from the merchant; the appeal window; the
intervention's end, which releases the merchant's settlement for the order.

A ruling for the buyer is carried out as an approved proposal would be: the arbiter proposed it
and a second arbiter, or the ruling itself, approved it. A merchant refund after the platform
paid moves no money to the buyer: it settles the recovery. Pure functions over `CaseCore`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cases.core.moves import CaseCore, InvalidAction
from cases.fulfilment import legs
from cases.intervention.actions import CarryOutRuling
from cases.intervention.models import MONEY_DECISIONS, Decision, Intervention, Ruling, Stage
from cases.models import OPEN_STATUSES, ClockName, Proposal, ResolutionType, ReviewDecision, Status

PLANS = {
    Decision.REFUND: ResolutionType.REFUND_ONLY,
    Decision.RETURN_REFUND: ResolutionType.RETURN_REFUND,
    Decision.EXCHANGE: ResolutionType.EXCHANGE,
    Decision.REPAIR: ResolutionType.REPAIR,
}
PLATFORM = "platform"  # who pays first, in the proposal and the ledger
# Where a ruling's plan may start: no plan of the case's own is being carried out.
CARRIABLE = OPEN_STATUSES | {Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT, Status.AWAITING_CONFIRMATION}


def ruled(m: CaseCore, found: Intervention, made: Ruling, now: datetime) -> None:
    found.ruling = made
    found.final = made.appeal
    found.arbiters += [a for a in (made.by, made.confirmed_by) if a is not None]
    for party in list(found.awaited):
        m.meet(ClockName.BUYER_MORE_EVIDENCE if party.value == "buyer" else ClockName.MERCHANT_MORE_EVIDENCE, now)
    found.awaited = []
    found.stage = Stage.CARRYING_OUT if made.for_buyer else Stage.REJECTED
    m.emit("ruled", "system", now, decision=made.decision.value, amount=str(made.amount), reason=made.reason,
           arbiters=[a for a in (made.by, made.confirmed_by) if a], appeal=made.appeal, stage=int(found.stage))
    m.notify_customer("ruled", now, "The platform has ruled", f"Ruling: {made.decision.value}. {made.reason}")
    if made.for_buyer:
        m.start_clock(ClockName.RULING_CARRY_OUT, now)
    elif found.final:
        close(m, found, now)


def _settles(found: Intervention) -> bool:
    """The platform has paid and the merchant still owes it."""
    return bool(found.platform_paid) and not found.recovery_settled


def check_carry_out(m: CaseCore, data: CarryOutRuling) -> None:
    found = m.state.intervention
    if found is None or not (found.stage == Stage.CARRYING_OUT or _settles(found)):
        raise InvalidAction("carry_out_ruling: no ruling waits to be carried out")
    if found.stage == Stage.CARRYING_OUT and m.state.status not in CARRIABLE:
        raise InvalidAction(
            f"carry_out_ruling: the case is {m.state.status.value}; its current plan must end first"
        )
    left = m.state.intake.order_amount - m.state.paid_out
    if found.stage == Stage.CARRYING_OUT and found.ruling is not None and found.ruling.amount > left:
        raise InvalidAction(f"carry_out_ruling: the ruling's {found.ruling.amount} exceeds the {left} left to pay")


def carry_out(m: CaseCore, data: CarryOutRuling, now: datetime) -> None:
    found = m.state.intervention
    assert found is not None and found.ruling is not None
    settles = _settles(found)
    m.emit("ruling_carried_out", data.actor, now, note=data.note, settles=settles)
    if settles:
        # The buyer has been paid: the merchant's money settles what it owes the platform, and
        # nothing more goes to the buyer.
        found.recovery_settled = True
        m.emit("recovery_settled", "system", now, amount=str(found.platform_paid))
        return
    m.meet(ClockName.RULING_CARRY_OUT, now)
    found.stage = Stage.CARRIED_OUT
    m.emit("intervention_stage", "system", now, stage=int(found.stage))
    _plan(m, found.ruling, now)
    if found.final:
        close(m, found, now)


def _plan(m: CaseCore, ruling: Ruling, now: datetime, payer: str | None = None) -> None:
    state = m.state
    legs.abandon_return(m, now)
    state.proposals_made += 1
    state.proposal = Proposal(
        type=PLANS[ruling.decision], amount=ruling.amount, note=f"the platform's ruling: {ruling.reason}",
        proposed_by=ruling.by, proposed_at=ruling.at, number=state.proposals_made, waive_return=True,
        payer=payer,
    )
    state.review = ReviewDecision(approved=True, by=ruling.confirmed_by or ruling.by, at=now, note="ruling")
    if payer == PLATFORM:
        state.status = Status.RESOLVING  # money first; the goods are not the platform's to move
    else:
        legs.begin(m, now)


def not_carried_out(m: CaseCore, now: datetime) -> None:
    """The merchant let its window pass: the platform pays a money ruling first (S16.4); any
    other ruling goes to the platform's staff."""
    found = m.state.intervention
    if found is None or found.stage != Stage.CARRYING_OUT or found.ruling is None:
        return
    ruling = found.ruling
    left = m.state.intake.order_amount - m.state.paid_out
    if ruling.decision not in MONEY_DECISIONS or m.state.status not in CARRIABLE or ruling.amount > left:
        # Goods the platform cannot move, or a plan under way it must not cut across.
        m.emit("ruling_not_carried_out", "system", now, decision=ruling.decision.value)
        m.escalate("the merchant did not carry out the platform's ruling", "system", now)
        return
    # Owed by the merchant only once the money has moved (`platform_refunded`).
    found.stage = Stage.PLATFORM_PAID
    m.emit("platform_pays_first", "system", now, amount=str(ruling.amount), stage=int(found.stage))
    m.notify_customer(
        "platform_pays", now, "The platform is refunding you",
        f"The merchant did not carry out the ruling in time, so the platform refunds you {ruling.amount}.",
    )
    _plan(m, ruling, now, payer=PLATFORM)
    if found.final:
        close(m, found, now)


def platform_refunded(m: CaseCore, amount: Decimal) -> None:
    """The platform's refund went through: the merchant owes it now (S16.4)."""
    found = m.state.intervention
    if found is not None and found.stage in (Stage.PLATFORM_PAID, Stage.CLOSED):
        found.platform_paid = amount


def platform_refund_failed(m: CaseCore, now: datetime) -> None:
    """The platform could not pay: the ruling waits to be carried out again, by the merchant, and
    the failure has escalated the case (`CaseMachine.resolution_failed`)."""
    found = m.state.intervention
    if found is not None and found.stage == Stage.PLATFORM_PAID and not found.platform_paid:
        found.stage = Stage.CARRYING_OUT
        m.emit("intervention_stage", "system", now, stage=int(found.stage))


def appeal_ends_at(m: CaseCore) -> datetime | None:
    found = m.state.intervention
    platform = m.policy.platform
    if found is None or not found.open or found.final or found.ruling is None or found.appealed_by is not None:
        return None
    if platform is None or platform.intervention is None:
        return None
    return m.after(found.ruling.at, platform.intervention.appeal_within)


def appeal_window_ended(m: CaseCore, now: datetime) -> None:
    found = m.state.intervention
    assert found is not None
    found.final = True
    m.emit("ruling_final", "system", now)
    if found.stage in (Stage.REJECTED, Stage.CARRIED_OUT, Stage.PLATFORM_PAID):
        close(m, found, now)


def close(m: CaseCore, found: Intervention, now: datetime) -> None:
    """The intervention has ended: the merchant's settlement for the order is released."""
    m.end_intervention(now)
