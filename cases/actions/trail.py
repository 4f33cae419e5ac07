"""How an action is read back from the audit trail (what-if, `reports/whatif/`): which recorded
events were the action itself, and the input it was sent, rebuilt from what the event recorded.

An action's event records the fields of its model under the same names; `rebuilt` takes those
back. Where the event does not say everything (a proposal's note), or where the case emits the
same event type by itself (an escalation on a breach), the action's spec names a function here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Protocol

from cases.models import Action, CaseState


class TrailEvent(Protocol):
    """An audit event as read from the record."""

    @property
    def type(self) -> str: ...

    @property
    def actor(self) -> str: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


# What makes the case escalate by itself, right after it (`CaseCore.escalate`).
ESCALATION_CAUSES = frozenset({"clock_breached", "resolution_failed", "quality_review_opened"})


def always(event: TrailEvent, previous: TrailEvent | None) -> bool:
    return True


def by_hand(event: TrailEvent, previous: TrailEvent | None) -> bool:
    """An escalation someone asked for, not the one the case made after a breach or a failure."""
    caused = previous is not None and previous.type in ESCALATION_CAUSES
    return not (caused and event.actor == "system")


def by_agent(event: TrailEvent, previous: TrailEvent | None) -> bool:
    """An agent's assignment; the roster's carries the time the case queued."""
    return "queue_seconds" not in event.data


def reported(event: TrailEvent, previous: TrailEvent | None) -> bool:
    """A result someone reported; the case records a silent warehouse's pass by itself."""
    return not event.data.get("silent")


def not_at_open(event: TrailEvent, previous: TrailEvent | None) -> bool:
    """A request sent on an open case; one stated at intake comes back with the intake."""
    return not event.data.get("at_open")


def heard(event: TrailEvent, previous: TrailEvent | None) -> bool:
    """A follow-up outcome someone reported, not the case giving up on one."""
    data = event.data
    silent = event.actor == "system" and data.get("outcome") == "unreachable" and data.get("note") == "no outcome"
    return not silent


@cache
def _recorded_fields(model: type[Action]) -> tuple[str, ...]:
    return tuple(k for k in model.model_fields if k != "actor")


def rebuilt(model: type[Action], event: TrailEvent) -> dict[str, Any]:
    """The action's input as far as its event recorded it: the actor and the same-named fields."""
    d = event.data
    return {"actor": event.actor} | {k: d[k] for k in _recorded_fields(model) if d.get(k) is not None}


def proposal_rest(event: TrailEvent, later: Sequence[TrailEvent], final: CaseState) -> dict[str, Any]:
    """What a `resolution_proposed` event leaves out: the repair mode shows in the repair request
    that follows the proposal (at once or after approval), the note only in the final state."""
    d = event.data
    data: dict[str, Any] = {}
    for nxt in later:
        if nxt.type == "resolution_proposed":
            break
        if nxt.type == "repair_requested":
            data["repair_mode"] = nxt.data.get("mode")
            break
    proposal = final.proposal
    if proposal is not None and proposal.number == d.get("number"):
        data["note"] = proposal.note
        data["waive_return"] = proposal.waive_return
    elif d.get("type") == "refund_only":
        # Accepted when recorded; the reason it was allowed is not in the trail.
        data |= {"waive_return": True, "note": "return waived (as recorded)"}
    return data
