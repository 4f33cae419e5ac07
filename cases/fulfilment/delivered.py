"""The merchant's receipt of a return: the carrier's word that it was delivered, and the law's 7
days that start once the merchant has the goods (STANDARDS S15.5). The silence at their end is
the return leg's (`legs.delivered_return_unhandled`), which passes the goods as an inspection would.
"""

from __future__ import annotations

from datetime import datetime

from cases.clocks import sla
from cases.core.moves import CaseCore, InvalidAction
from cases.fulfilment.actions import InspectionResult, ReturnDelivered
from cases.fulfilment.models import InspectionOutcome, ReturnLeg
from cases.models import ClockName, Status


def leg_of(m: CaseCore) -> ReturnLeg:
    leg = m.state.return_leg
    if leg is None:
        raise InvalidAction("the case has no authorised return")
    return leg


def check_delivered(m: CaseCore, data: ReturnDelivered) -> None:
    if leg_of(m).delivered_at is not None:
        raise InvalidAction("return_delivered: the carrier already delivered this return")


def merchant_has_the_goods(m: CaseCore, now: datetime) -> None:
    """The law's 7 days run from the merchant's receipt: the carrier's word, or the warehouse's
    scan when that comes first (STANDARDS S15.5). Started once per return."""
    clock = m.state.clocks.get(ClockName.DELIVERED_RETURN)
    if clock is None or not sla.is_open(clock) or clock.started_at < leg_of(m).authorized_at:
        m.start_clock(ClockName.DELIVERED_RETURN, now)


def return_delivered(m: CaseCore, data: ReturnDelivered, now: datetime) -> None:
    """The carrier delivered the return: the merchant's duty to deal with it starts (S15.5)."""
    state = m.state
    leg = leg_of(m)
    leg.delivered_at = now
    m.emit("return_delivered", data.actor, now, rma=leg.rma, note=data.note)
    m.meet(ClockName.RETURN_WINDOW, now)  # a delivered parcel was shipped
    m.meet(ClockName.RETURN_TRANSIT, now)
    state.status = Status.RETURN_IN_TRANSIT if state.status == Status.AWAITING_RETURN else state.status
    # The goods are with the merchant now: the handling counts again.
    m.resume_clocks(now)
    merchant_has_the_goods(m, now)


def check_inspection(m: CaseCore, data: InspectionResult) -> None:
    delivered = ClockName.DELIVERED_RETURN in m.state.clocks
    if delivered and data.result == InspectionOutcome.FAILED and not data.evidence:
        raise InvalidAction(
            "inspection_result.evidence: a failed inspection of a delivered return needs evidence (STANDARDS S15.5)"
        )
