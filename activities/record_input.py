"""What one record of a case carries: the read model's rows, and of the state only what moved.

The workflow builds the record here, in its own task, from one JSON dump of the state: the
projection's columns, the clocks, the survey, and the top-level fields of the state that changed
since the last record that moved the projection (`StateDelta`). The store merges those fields
into the stored state (`cases.state || delta`), so the stored state is the whole state again
without the record carrying it. Pure, and imported by workflow code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from activities.contracts import RecordCase
from cases.core.effects import Notification, RetiredClock
from cases.models import CaseEvent, CaseState

JSON = dict[str, Any]


class StateDelta:
    """A digest of each top-level field of the state as last projected.

    Only a record with a higher `last_seq` moves the projection (activities/store.py), so only
    such a record takes the digests forward: a change carried by a record that was not projected
    goes again with the next one. Digests, not copies, keep the cost per cached case small.
    """

    def __init__(self) -> None:
        self._seq = -1
        self._digests: dict[str, bytes] = {}

    def moved(self, dumped: JSON, last_seq: int) -> JSON:
        if last_seq <= self._seq:
            return {}
        moved: JSON = {}
        for name, value in dumped.items():
            digest = hashlib.blake2b(
                json.dumps(value, separators=(",", ":")).encode(), digest_size=16
            ).digest()
            if self._digests.get(name) != digest:
                self._digests[name] = digest
                moved[name] = value
        self._seq = last_seq
        return moved


def record_case(
    state: CaseState,
    events: Sequence[CaseEvent],
    retired: Sequence[RetiredClock] = (),
    notifications: Sequence[Notification] = (),
    delta: StateDelta | None = None,
) -> RecordCase:
    """The record of `state` with its new `events`; without `delta`, it carries the whole state."""
    dumped = state.model_dump(mode="json")
    return RecordCase(
        row=case_row(state, dumped),
        state=(delta or StateDelta()).moved(dumped, state.last_seq),
        events=list(events),
        clocks=[clock_row(state.reopen_count, c) for c in dumped["clocks"].values()]
        + [clock_row(r.round, r.clock.model_dump(mode="json")) for r in retired],
        survey=survey_row(state.reopen_count, events),
        notifications=list(notifications),
    )


def case_row(state: CaseState, d: JSON) -> JSON:
    """The `cases` table's columns."""
    intake, resolution, review, follow_up = d["intake"], d["resolution"], d["review"], d["follow_up"]
    return {
        "case_id": d["case_id"],
        "workflow_id": d["workflow_id"],
        "order_id": intake["order_id"],
        "customer_id": intake["customer"]["id"],
        "customer_tier": intake["customer"]["tier"],
        "channel": intake["channel"],
        "category": d["category"],
        "tier": d["tier"],
        "status": d["status"],
        "escalation_level": d["escalation_level"],
        "handler": d["handler"],
        "team": d["team"],
        "order_amount": intake["order_amount"],
        "currency": intake["currency"],
        "opened_at": d["opened_at"],
        "first_response_at": d["first_response_at"],
        "resolved_at": d["resolved_at"],
        "closed_at": d["closed_at"],
        "resolution_type": resolution["type"] if resolution else None,
        "resolution_amount": resolution["amount"] if resolution else None,
        "review_approved": review["approved"] if review else None,
        "rating": d["rating"],
        "quality_review": d["quality_review"],
        "follow_up_reason": follow_up["reason"] if follow_up else None,
        "follow_up_outcome": follow_up["outcome"] if follow_up else None,
        "reopen_count": d["reopen_count"],
        "escalations": d["escalations"],
        "sla_state": state.sla_state,
        "last_seq": d["last_seq"],
    }


def clock_row(round_: int, clock: JSON) -> JSON:
    """One `sla_clocks` row, from a clock dumped as JSON."""
    return {
        "round": round_,
        "clock": clock["name"],
        "turn": clock["turn"],
        "target_seconds": clock["target_seconds"],
        "business": clock["business"],
        "target_label": clock["target_label"],
        "started_at": clock["started_at"],
        "due_at": clock["due_at"] or clock["breached_at"],
        "state": clock["state"],
        "warned_at": clock["warned_at"],
        "breached_at": clock["breached_at"],
        "met_at": clock["met_at"],
        "stopped_at": clock["stopped_at"],
        "elapsed_seconds": clock["elapsed_seconds"],
    }


def survey_row(round_: int, events: Sequence[CaseEvent]) -> JSON | None:
    """The round's `surveys` row, when these events sent the survey or carry its answer."""
    sent = next((e for e in events if e.type == "notification_queued" and e.data.get("kind") == "survey"), None)
    rated = next((e for e in events if e.type == "rated"), None)
    if sent is None and rated is None:
        return None
    return {
        "round": round_,
        "sent_at": (sent or rated).at.isoformat(),  # type: ignore[union-attr]
        "score": rated.data["score"] if rated else None,
        "comment": rated.data.get("comment") if rated else None,
        "rated_at": rated.at.isoformat() if rated else None,
    }
