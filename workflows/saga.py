"""The resolution saga: for each step, the activity that does it, the one that undoes it, its input.

`PLAN` lists the steps of each resolution type in order; `STEPS` says how each step is carried
out and compensated. The workflow runs a plan's steps forward and, when one fails for good,
undoes the completed ones in reverse order. Every call derives its idempotency key from the case
and the proposal number, so a retried or replayed step finds its earlier effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        Cancellation,
        MoneyMovement,
        MoneyMovementKind,
        Reversal,
        Shipment,
        Visit,
        VisitKind,
    )
    from activities.followups import FollowUps
    from activities.refunds import Refunds
    from activities.shipments import Shipments
    from cases.core.machine import CaseMachine
    from cases.models import CaseState, ExecutedStep, Proposal, ResolutionType
    from workflows import retry_policies as rp

PLAN: dict[ResolutionType, tuple[str, ...]] = {
    ResolutionType.REFUND: ("refund",),
    ResolutionType.REFUND_ONLY: ("refund",),
    # After the return passed inspection (cases/fulfilment/legs.py).
    ResolutionType.RETURN_REFUND: ("refund",),
    ResolutionType.EXCHANGE: ("refund", "replacement"),
    # No REPAIR: a repair is its own leg (cases/fulfilment/legs.py, workflows/bookings.py).
    ResolutionType.COMPENSATION: ("credit",),
    ResolutionType.EXPLANATION: (),
}

UNDO_REASON = "a later resolution step failed"


@dataclass(frozen=True)
class SagaStep:
    do: Callable[[CaseState, Proposal, str], Awaitable[str]]
    undo: Callable[[CaseState, ExecutedStep, str], Awaitable[None]]


def step_key(state: CaseState, proposal: Proposal, step: str) -> str:
    return f"{state.case_id}:p{proposal.number}:{step}"


def _money(kind: MoneyMovementKind) -> Callable[[CaseState, Proposal, str], Awaitable[str]]:
    async def move(state: CaseState, proposal: Proposal, key: str) -> str:
        intake = state.intake
        result = await workflow.execute_activity_method(
            Refunds.execute,
            MoneyMovement(
                key=key,
                case_id=state.case_id,
                order_id=intake.order_id,
                customer_id=intake.customer.id,
                kind=kind,
                amount=proposal.amount,
                currency=intake.currency,
            ),
            summary=f"{kind.value} {proposal.amount} {intake.currency} (once per approval)",
            start_to_close_timeout=rp.PROVIDER_TIMEOUT,
            retry_policy=rp.PROVIDER_RETRY,
        )
        return result.reference

    return move


async def _ship_replacement(state: CaseState, proposal: Proposal, key: str) -> str:
    intake = state.intake
    shipped = await workflow.execute_activity_method(
        Shipments.ship,
        Shipment(key=key, case_id=state.case_id, order_id=intake.order_id, customer_id=intake.customer.id),
        summary=f"ship replacement for order {intake.order_id}",
        start_to_close_timeout=rp.PROVIDER_TIMEOUT,
        retry_policy=rp.PROVIDER_RETRY,
    )
    return shipped.reference


async def _schedule_repair(
    state: CaseState, key: str, when: datetime, reason: str, summary: str
) -> tuple[str, datetime]:
    booked = await workflow.execute_activity_method(
        FollowUps.schedule,
        Visit(
            key=key,
            case_id=state.case_id,
            customer_id=state.intake.customer.id,
            kind=VisitKind.REPAIR,
            scheduled_for=when,
            reason=reason,
        ),
        summary=summary,
        start_to_close_timeout=rp.PROVIDER_TIMEOUT,
        retry_policy=rp.PROVIDER_RETRY,
    )
    return booked.reference, booked.scheduled_for


def repair_key(state: CaseState) -> str:
    assert state.proposal is not None
    return step_key(state, state.proposal, "repair_visit")


async def book_repair(state: CaseState, key: str, when: datetime) -> tuple[str, datetime]:
    """Book the repair leg's visit or mail-in for `when`; the booking and its confirmed time."""
    assert state.repair is not None
    mode = state.repair.mode.value.replace("_", "-")
    summary = f"book {mode} repair for {when:%Y-%m-%d %H:%M} UTC"
    return await _schedule_repair(state, key, when, f"{mode} repair", summary)


async def _reverse_money(state: CaseState, executed: ExecutedStep, key: str) -> None:
    await workflow.execute_activity_method(
        Refunds.reverse,
        Reversal(key=key, case_id=state.case_id, reference=executed.reference, reason=UNDO_REASON),
        summary=f"undo {executed.step} {executed.reference}",
        start_to_close_timeout=rp.PROVIDER_TIMEOUT,
        retry_policy=rp.COMPENSATION_RETRY,
    )


async def cancel_repair(state: CaseState, reference: str, key: str) -> None:
    await _cancel(FollowUps.cancel, "repair visit", "the case no longer needs the visit")(
        state, ExecutedStep(step="repair_visit", reference=reference), key
    )


def _cancel(
    method: Any, what: str, reason: str = UNDO_REASON
) -> Callable[[CaseState, ExecutedStep, str], Awaitable[None]]:
    async def cancel(state: CaseState, executed: ExecutedStep, key: str) -> None:
        await workflow.execute_activity_method(
            method,
            Cancellation(key=key, case_id=state.case_id, reference=executed.reference, reason=reason),
            summary=f"cancel {what} {executed.reference}",
            start_to_close_timeout=rp.PROVIDER_TIMEOUT,
            retry_policy=rp.COMPENSATION_RETRY,
        )

    return cancel


STEPS: dict[str, SagaStep] = {
    "refund": SagaStep(_money(MoneyMovementKind.REFUND), _reverse_money),
    "credit": SagaStep(_money(MoneyMovementKind.CREDIT), _reverse_money),
    # The platform pays a ruling first (STANDARDS S16.4); its ledger rows come with the record.
    "platform_refund": SagaStep(_money(MoneyMovementKind.PLATFORM_REFUND), _reverse_money),
    "replacement": SagaStep(_ship_replacement, _cancel(Shipments.cancel, "replacement")),
}


async def run(machine: CaseMachine, settle: Callable[[], Awaitable[None]]) -> None:
    """Carry out the approved proposal's plan, undoing the completed steps if one fails for good.

    `settle` records what is pending before each step, so the approval is on record before money
    or goods move.
    """
    state = machine.state
    proposal = state.proposal
    assert proposal is not None
    done: list[ExecutedStep] = []
    plan = ("platform_refund",) if proposal.payer == "platform" else PLAN[proposal.type]
    for step in plan:
        if step in ("refund", "platform_refund") and proposal.amount <= 0:
            continue  # an exchange without a price difference moves no money
        key = step_key(state, proposal, step)
        await settle()
        try:
            reference = await STEPS[step].do(state, proposal, key)
        except ActivityError as err:
            compensated: list[ExecutedStep] = []
            for executed in reversed(done):
                undo_key = f"{step_key(state, proposal, executed.step)}:undo"
                await STEPS[executed.step].undo(state, executed, undo_key)
                executed.compensated = True
                compensated.append(executed)
            machine.resolution_failed(step, cause(err), compensated, workflow.now())
            return
        done.append(ExecutedStep(step=step, reference=reference))
    machine.resolution_executed(done, workflow.now())


def cause(err: BaseException) -> str:
    cause = err.__cause__
    if isinstance(cause, ApplicationError):
        return f"{cause.type}: {cause.message}"
    return str(cause or err)
