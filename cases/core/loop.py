"""The case's loop, in one place: after any change, fire what fell due, then say what the case
waits for next. The workflow drives it with timers and activities (`workflows/case_workflow.py`);
what-if drives it with the recorded inputs (`reports/whatif/replay.py`). Both ask `next_step`
and do what it says, so they cannot drift apart.

The order matters where two are wanted at once: a resolution under way and the follow-up
booking come before the roster, the repair booking after it, and an ended case gives its seat
back before it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from cases.core.machine import CaseMachine
from cases.models import FINAL_STATUSES, CaseState, Status
from cases.routing import placement


class Step(StrEnum):
    RESOLVE = "resolve"  # run the resolution's steps (the saga)
    BOOK_FOLLOW_UP = "book_follow_up"
    ROUTE = "route"  # ask the roster: place the case, record who took it, or give the seat back
    BOOK_REPAIR = "book_repair"
    DONE = "done"  # the case has ended
    WAIT = "wait"  # for an input, or for the next wake (`CaseMachine.next_wake`)


def _resolving(state: CaseState) -> bool:
    return state.status == Status.RESOLVING


def _follow_up_unbooked(state: CaseState) -> bool:
    follow_up = state.follow_up
    return state.status == Status.FOLLOW_UP and follow_up is not None and not follow_up.reference


def _roster_asked(state: CaseState) -> bool:
    return placement.pending(state) is not None


def _repair_unbooked(state: CaseState) -> bool:
    job = state.repair
    return (
        state.status == Status.REPAIRING
        and job is not None
        and job.booking is None
        and not job.booking_failed
        and job.outcome is None
    )


def _ended(state: CaseState) -> bool:
    return state.status in FINAL_STATUSES


# What the case does next, first wanted first.
ORDER: list[tuple[Step, Callable[[CaseState], bool]]] = [
    (Step.RESOLVE, _resolving),
    (Step.BOOK_FOLLOW_UP, _follow_up_unbooked),
    (Step.ROUTE, _roster_asked),
    (Step.BOOK_REPAIR, _repair_unbooked),
    (Step.DONE, _ended),
]


def next_step(machine: CaseMachine, now: datetime) -> Step:
    """Fire what is due at `now`, then the first step the case wants; WAIT when none."""
    machine.fire_due(now)
    for step, wanted in ORDER:
        if wanted(machine.state):
            return step
    return Step.WAIT
