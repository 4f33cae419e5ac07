"""The visits the workflow books: the follow-up call or visit (回访) and the repair leg's visit.

Each booking is one activity with an idempotency key derived from the case, and its result goes
back to the machine, which knows whether the case still wants it.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import Visit, VisitKind
    from activities.followups import FollowUps
    from cases.core.machine import CaseMachine
    from workflows import retry_policies as rp
    from workflows import saga


async def follow_up(machine: CaseMachine) -> None:
    state = machine.state
    assert state.follow_up is not None
    when = max(machine.follow_up_due(), workflow.now())
    booked = await workflow.execute_activity_method(
        FollowUps.schedule,
        Visit(
            key=f"{state.case_id}:r{state.reopen_count}:follow_up",
            case_id=state.case_id,
            customer_id=state.intake.customer.id,
            kind=VisitKind.FOLLOW_UP,
            scheduled_for=when,
            reason=state.follow_up.reason,
        ),
        start_to_close_timeout=rp.PROVIDER_TIMEOUT,
        retry_policy=rp.NOTIFY_RETRY,
        summary=f"book follow-up ({state.follow_up.reason})",
    )
    machine.follow_up_scheduled(booked.reference, booked.scheduled_for, workflow.now())


async def repair(machine: CaseMachine) -> None:
    """Book the repair leg's visit or mail-in; a booking that fails for good goes to a person.

    Actions go on while the booking is in flight; a booking the case no longer wants (the
    result came first, or the case moved on) is cancelled, under its own idempotency key.
    """
    state = machine.state
    job = state.repair
    assert job is not None
    key = saga.repair_key(state)
    try:
        reference, when = await saga.book_repair(state, key, machine.repair_visit_due(workflow.now()))
    except ActivityError as err:
        machine.repair_booking_failed(job, saga.cause(err), workflow.now())
        return
    if not machine.repair_booked(job, reference, when, workflow.now()):
        await saga.cancel_repair(state, reference, f"{key}:undo")
