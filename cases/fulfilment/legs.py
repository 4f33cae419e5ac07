"""The physical legs of a resolution: the return on its way back, its inspection, and the repair.

An approved plan starts here (`begin`). A refund, compensation or explanation goes straight to
the resolution saga. A return refund or an exchange first authorises the return and waits for
the goods: the customer ships within the return window or the return lapses; the warehouse
inspects within the inspection window, and its silence passes or escalates as the policy says;
only a pass moves money or ships a replacement. A repair books a visit or mail-in within the
repair response target and waits for its result; a repair that is not fixable goes back to the
agent for a new proposal. Pure functions over `CaseCore`, like the action handlers.
"""

from __future__ import annotations

from datetime import datetime

from cases.clocks import sla
from cases.core.moves import CaseCore, InvalidAction, iso
from cases.fulfilment.actions import (
    InspectionResult,
    RepairResult,
    ReturnReceived,
    ReturnShipped,
)
from cases.fulfilment.delivered import leg_of as _leg
from cases.fulfilment.delivered import merchant_has_the_goods
from cases.fulfilment.models import InspectionOutcome, RepairJob, RepairOutcome, ReturnLeg
from cases.models import (
    Category,
    ClockName,
    ExecutedStep,
    ProposeResolution,
    Resolution,
    ResolutionType,
    Status,
)

RETURN_PLANS = frozenset({ResolutionType.RETURN_REFUND, ResolutionType.EXCHANGE})

# The name each saga step's reference goes by in the customer's proof of what was done.
PROOF_NAMES = {
    "refund": "refund_reference",
    "platform_refund": "refund_reference",
    "credit": "coupon_code",
    "replacement": "replacement_tracking",
    "repair_visit": "repair_booking",
}


def check_refund_only(m: CaseCore, data: ProposeResolution) -> None:
    """Money back without the goods: a lost parcel, a low-value order, or a waived return."""
    f = m.policy.fulfilment
    intake = m.state.intake
    if intake.category == Category.LOGISTICS or intake.order_amount <= f.refund_only_max_amount:
        return
    if data.waive_return and data.note:
        return
    raise InvalidAction(
        f"propose_resolution.type: refund_only needs a lost parcel (category logistics), an order "
        f"of at most {f.refund_only_max_amount} {intake.currency}, or waive_return with a note "
        "saying why; otherwise propose return_refund"
    )


def begin(m: CaseCore, now: datetime) -> None:
    """Start the approved plan (or one that needs no approval)."""
    state = m.state
    proposal = state.proposal
    assert proposal is not None
    leg = state.return_leg
    if proposal.type in RETURN_PLANS and leg is not None and leg.inspection == InspectionOutcome.PASSED:
        state.status = Status.RESOLVING  # the goods already passed inspection here: no second return
    elif proposal.type in RETURN_PLANS:
        _authorize_return(m, now)
    elif proposal.type == ResolutionType.REPAIR:
        _request_repair(m, now)
    else:
        state.status = Status.RESOLVING


def abandon_return(m: CaseCore, now: datetime) -> None:
    """A new plan while the goods are on their way: the return leg stops, the clocks count again."""
    state = m.state
    leg = state.return_leg
    if state.status not in (Status.AWAITING_RETURN, Status.RETURN_IN_TRANSIT) or leg is None:
        return
    for name in (ClockName.RETURN_WINDOW, ClockName.RETURN_TRANSIT, ClockName.DELIVERED_RETURN):
        clock = state.clocks.get(name)
        if clock is not None:
            sla.stop(clock, now, m.policy.calendar)
    m.emit("return_abandoned", "system", now, rma=leg.rma)
    m.resume_clocks(now)


# -- the return leg ------------------------------------------------------------------------------


def _authorize_return(m: CaseCore, now: datetime) -> None:
    state = m.state
    proposal = state.proposal
    assert proposal is not None
    f = m.policy.fulfilment
    rma = f"RMA-{state.case_id}-{proposal.number}"
    state.return_leg = ReturnLeg(rma=rma, address=f.return_address, authorized_at=now)
    state.status = Status.AWAITING_RETURN
    m.emit("return_authorized", "system", now, rma=rma, plan=proposal.type.value)
    # While the goods are with the customer and the carrier, the handling waits on them; a reply
    # owed to the customer does not.
    m.pause_clocks(now, keep=frozenset({ClockName.NEXT_REPLY}))
    m.start_clock(ClockName.RETURN_WINDOW, now)
    window = state.clocks[ClockName.RETURN_WINDOW]
    assert window.due_at is not None
    m.notify_customer(
        "return_authorized",
        now,
        "Please send the item back",
        f"Return number {rma}. Ship the item to {f.return_address} by "
        f"{m.local(window.due_at)} and tell us the carrier and tracking number.",
        rma=rma,
    )


def return_shipped(m: CaseCore, data: ReturnShipped, now: datetime) -> None:
    leg = _leg(m)
    leg.carrier, leg.tracking_number, leg.shipped_at = data.carrier, data.tracking_number, now
    m.emit(
        "return_shipped", data.actor, now, carrier=data.carrier, tracking_number=data.tracking_number
    )
    m.meet(ClockName.RETURN_WINDOW, now)
    m.state.status = Status.RETURN_IN_TRANSIT
    m.start_clock(ClockName.RETURN_TRANSIT, now)


def delivered_return_unhandled(m: CaseCore, now: datetime) -> None:
    """The merchant neither refunded nor reported a failed inspection in time: the goods pass,
    and the approved plan they came back for is carried out."""
    state = m.state
    leg, proposal = state.return_leg, state.proposal
    if leg is None or leg.inspection is not None or (leg.received_at is None and leg.delivered_at is None):
        return
    if state.status not in (Status.RETURN_IN_TRANSIT, Status.INSPECTING):
        return
    # Only the plan the goods came back for: a newer proposal waiting for approval has no return.
    if proposal is None or proposal.type not in RETURN_PLANS or (
        proposal.needs_approval and (state.review is None or not state.review.approved)
    ):
        return
    target = m.state.clocks[ClockName.DELIVERED_RETURN].target_label
    _inspected(
        m, InspectionOutcome.PASSED, f"no refund or failed inspection within {target} of delivery", [],
        "system", now, silent=True,
    )


def return_received(m: CaseCore, data: ReturnReceived, now: datetime) -> None:
    leg = _leg(m)
    leg.received_at = now
    m.emit("return_received", data.actor, now, rma=leg.rma, note=data.note)
    m.meet(ClockName.RETURN_WINDOW, now)  # goods that arrive without a shipping notice count
    m.meet(ClockName.RETURN_TRANSIT, now)
    m.state.status = Status.INSPECTING
    m.resume_clocks(now)
    m.start_clock(ClockName.INSPECTION, now)
    merchant_has_the_goods(m, now)


def inspection_result(m: CaseCore, data: InspectionResult, now: datetime) -> None:
    _inspected(m, data.result, data.notes, list(data.evidence), data.actor, now)


def warehouse_silent(m: CaseCore, now: datetime) -> bool:
    """The inspection window has passed without a result; True when the policy passes the goods."""
    if m.policy.fulfilment.silent_warehouse != "pass":
        return False
    _inspected(
        m, InspectionOutcome.PASSED, "no result within the inspection window", [], "system", now,
        silent=True,
    )
    return True


def _inspected(
    m: CaseCore,
    result: InspectionOutcome,
    notes: str,
    evidence: list[str],
    actor: str,
    now: datetime,
    *,
    silent: bool = False,
) -> None:
    state = m.state
    leg = _leg(m)
    leg.inspection, leg.inspected_at, leg.inspection_notes = result, now, notes
    leg.evidence, leg.passed_by_silence = evidence, silent
    m.emit(
        "inspection_result", actor, now, result=result.value, notes=notes, evidence=evidence,
        silent=silent,
    )
    m.meet(ClockName.INSPECTION, now)
    m.meet(ClockName.DELIVERED_RETURN, now)
    if result == InspectionOutcome.PASSED:
        state.status = Status.RESOLVING
        return
    # Back to the agent with the evidence; the clocks keep running while they find a remedy.
    state.proposal = None
    state.status = Status.ACKNOWLEDGED
    m.notify_customer(
        "inspection_failed",
        now,
        "Your return did not pass inspection",
        f"Return {leg.rma} did not pass inspection: {notes}. An agent will contact you.",
        rma=leg.rma,
    )


def lapse(m: CaseCore, ended: datetime, now: datetime) -> None:
    """The customer did not ship the return by `ended`: the case closes as lapsed, then."""
    state = m.state
    leg = _leg(m)
    m.emit("return_lapsed", "system", now, rma=leg.rma, window_ended=iso(ended))
    m.stop_clocks(now)
    state.status = Status.LAPSED
    state.closed_at = ended
    m.end_intervention(now)
    m.notify_customer(
        "return_lapsed",
        now,
        "Your return has lapsed",
        f"Return {leg.rma} was not shipped within the return window, so the case is closed. "
        "Contact us if you still need help.",
        rma=leg.rma,
    )


# -- the repair ----------------------------------------------------------------------------------


def _request_repair(m: CaseCore, now: datetime) -> None:
    state = m.state
    proposal = state.proposal
    assert proposal is not None
    state.repair = RepairJob(mode=proposal.repair_mode)
    state.status = Status.REPAIRING
    m.emit("repair_requested", "system", now, mode=proposal.repair_mode.value)
    m.start_clock(ClockName.REPAIR, now)


def repair_visit_due(m: CaseCore, now: datetime) -> datetime:
    """When to book the visit: the policy's lead time after the approval, never after the
    response target, and never in the past (a booking retried for long)."""
    clock = m.state.clocks.get(ClockName.REPAIR)
    start = clock.started_at if clock is not None else now
    wanted = m.after(start, m.policy.fulfilment.repair_visit_lead)
    if clock is not None and clock.due_at is not None:
        wanted = min(wanted, clock.due_at)
    return max(wanted, now)


def repair_still_wanted(m: CaseCore, job: RepairJob) -> bool:
    """False when the result arrived, or the case moved on, while the booking was in flight."""
    state = m.state
    return state.status == Status.REPAIRING and state.repair is job and job.outcome is None


def repair_booking_failed(m: CaseCore, job: RepairJob, error: str, now: datetime) -> bool:
    """Whether the failure still matters; if so the repair clock stops (nobody will book now)."""
    if not repair_still_wanted(m, job):
        m.emit("repair_booking_superseded", "system", now, error=error)
        return False
    job.booking_failed = True
    clock = m.state.clocks.get(ClockName.REPAIR)
    if clock is not None:
        sla.stop(clock, now, m.policy.calendar)
    return True


def repair_booked(
    m: CaseCore, job: RepairJob, reference: str, scheduled_for: datetime, now: datetime
) -> bool:
    """Record the booking; False when it is no longer wanted and must be cancelled."""
    state = m.state
    if not repair_still_wanted(m, job):
        m.emit("repair_booking_superseded", "system", now, reference=reference)
        return False
    job.booking, job.scheduled_for = reference, scheduled_for
    m.emit(
        "repair_booked", "system", now, reference=reference, scheduled_for=iso(scheduled_for),
        mode=job.mode.value,
    )
    clock = state.clocks.get(ClockName.REPAIR)
    if clock is not None and clock.due_at is not None and scheduled_for <= clock.due_at:
        m.meet(ClockName.REPAIR, now)
    what = "A technician visits" if job.mode.value == "on_site" else "Send the item in; pickup"
    m.notify_customer(
        "repair_booked",
        now,
        "Your repair is booked",
        f"{what} on {m.local(scheduled_for)} (booking {reference}).",
        booking=reference,
    )
    return True


def repair_result(m: CaseCore, data: RepairResult, now: datetime) -> None:
    state = m.state
    job = state.repair
    assert job is not None
    job.outcome, job.record, job.outcome_at = data.result, data.repair_record, now
    m.emit(
        "repair_result", data.actor, now, result=data.result.value,
        repair_record=data.repair_record, note=data.note,
    )
    m.meet(ClockName.REPAIR, now)  # a result answers a booking that came late
    if data.result == RepairOutcome.FIXED:
        assert data.repair_record is not None
        steps = [ExecutedStep(step="repair_visit", reference=job.booking)] if job.booking else []
        executed(m, steps, now, repair_record=data.repair_record)
        return
    # Not fixable: the agent proposes an exchange or a refund; the clocks keep running.
    state.proposal = None
    state.status = Status.ACKNOWLEDGED
    m.notify_customer(
        "repair_not_fixable",
        now,
        "Your item cannot be repaired",
        "The repair could not fix the item. An agent will offer an exchange or a refund.",
    )


# -- the result ----------------------------------------------------------------------------------


def executed(m: CaseCore, steps: list[ExecutedStep], now: datetime, **proof: str) -> None:
    """The plan is carried out: record it with its proof and ask the customer to confirm."""
    state = m.state
    proposal = state.proposal
    assert proposal is not None
    proof = {PROOF_NAMES[s.step]: s.reference for s in steps if s.step in PROOF_NAMES} | proof
    state.resolution = Resolution(
        type=proposal.type, amount=proposal.amount, executed_at=now, steps=steps, proof=proof
    )
    state.resolved_at = now
    if any(s.step in ("refund", "credit", "platform_refund") for s in steps):
        state.paid_out += proposal.amount
    extra = {"proof": proof} if proof else {}
    m.emit(
        "resolution_executed",
        "system",
        now,
        type=proposal.type.value,
        amount=str(proposal.amount),
        steps=[s.model_dump(mode="json") for s in steps],
        **extra,
    )
    m.meet(ClockName.RESOLUTION, now)
    state.status = Status.AWAITING_CONFIRMATION
    state.confirmation_due_at = m.after(now, m.policy.confirmation_window)
    shown = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in proof.items())
    m.notify_customer(
        "result",
        now,
        "Your case has been resolved",
        f"Resolution: {proposal.type.value}"
        + (f" of {proposal.amount} {state.intake.currency}" if proposal.amount else "")
        + (f" ({shown})" if shown else "")
        + ". Please confirm, or tell us if the problem is not solved.",
        **extra,
    )
