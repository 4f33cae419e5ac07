"""The deadlines of a case's phases that are not SLA clocks: one row each, read by both
`CaseMachine.fire_due` (what happens when it passes) and `CaseMachine.next_wake` (when, and how
the UI labels the timer).

- The confirmation window: silence counts as acceptance (STANDARDS S5.1).
- The satisfaction survey: no rating by then and the case moves on (STANDARDS S6.2).
- The follow-up: no outcome within its window after the visit, and it counts as unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cases.core.moves import CaseCore
from cases.intervention import ruling
from cases.intervention.models import UNDECIDED
from cases.models import FollowUpOutcome, Status


@dataclass(frozen=True)
class Deadline:
    # When it passes, or None when the case is not in its phase.
    at: Callable[[CaseCore], datetime | None]
    label: str  # with `{at}` for the local time
    fire: Callable[[CaseCore, datetime], None]


def _confirmation_at(m: CaseCore) -> datetime | None:
    state = m.state
    if state.intervention is not None and state.intervention.stage in UNDECIDED:
        return None  # silence accepts nothing while the platform hears the case (STANDARDS S16)
    return state.confirmation_due_at if state.status == Status.AWAITING_CONFIRMATION else None


def _accept_by_silence(m: CaseCore, now: datetime) -> None:
    m.accept("accepted_by_silence", "system", now)


def _survey_at(m: CaseCore) -> datetime | None:
    state = m.state
    return state.survey_due_at if state.status == Status.AWAITING_RATING else None


def _survey_timed_out(m: CaseCore, now: datetime) -> None:
    m.state.survey_due_at = None
    m.emit("survey_timed_out", "system", now)
    m.after_rating(now)


def _follow_up_at(m: CaseCore) -> datetime | None:
    state = m.state
    follow_up = state.follow_up
    if state.status != Status.FOLLOW_UP or follow_up is None or follow_up.scheduled_for is None:
        return None
    return m.after(follow_up.scheduled_for, m.policy.follow_up_window)


def _unreachable(m: CaseCore, now: datetime) -> None:
    follow_up = m.state.follow_up
    assert follow_up is not None
    follow_up.outcome = FollowUpOutcome.UNREACHABLE
    follow_up.outcome_at = now
    m.emit("follow_up_result", "system", now, outcome="unreachable", note="no outcome")
    m.close(now)


DEADLINES: tuple[Deadline, ...] = (
    Deadline(_confirmation_at, "confirmation window ends {at}", _accept_by_silence),
    # The parties' window to appeal a ruling: silence makes it final (STANDARDS S16.5).
    Deadline(ruling.appeal_ends_at, "appeal window closes {at}", ruling.appeal_window_ended),
    Deadline(_survey_at, "satisfaction survey closes {at}", _survey_timed_out),
    Deadline(_follow_up_at, "follow-up outcome expected by {at}", _unreachable),
)
