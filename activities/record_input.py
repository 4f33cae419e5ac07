"""What one record of a case carries: the read model's rows, and of the state only what moved.

The workflow builds the record here, in its own task, from one JSON dump of the state: the
projection's columns, the clocks, the survey, and the top-level fields of the state that changed
since the state the store holds (`StateDelta`). The store merges those fields into it
(`cases.state || delta`), so the stored state is the whole state again without the record
carrying it. Pure, and imported by workflow code.
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
    """What the stored state is, as the workflow last heard it: a digest of each top-level field.

    A record carries the fields whose digest changed, with the digest of the whole state it was
    computed on (`base`) and of the whole state it makes (`digest`). The store merges it only onto
    exactly that base (activities/sql/010_state_delta.sql). When the store holds something else,
    which a task retried after its record committed can cause (its replay is later, so its events
    differ), the store says so and the next record carries the whole state (`forget`).
    Digests, not copies, keep the cost per cached case small.
    """

    def __init__(self) -> None:
        self._digests: dict[str, bytes] = {}
        self._whole = ""
        self._pending: tuple[dict[str, bytes], str] | None = None

    def moved(self, dumped: JSON) -> tuple[JSON, str, str]:
        """(the fields that changed, the base's digest or "" for a whole state, the new digest)."""
        digests = {name: _digest(value) for name, value in dumped.items()}
        whole = hashlib.blake2b(b"".join(digests[n] for n in sorted(digests)), digest_size=16).hexdigest()
        fields = {n: v for n, v in dumped.items() if self._digests.get(n) != digests[n]}
        self._pending = (digests, whole)
        return fields, self._whole, whole

    def settled(self, current: bool) -> None:
        """After the record: the store holds the new state (`current`), or something else."""
        if current and self._pending is not None:
            self._digests, self._whole = self._pending
        else:
            self.forget()
        self._pending = None

    def forget(self) -> None:
        self._digests, self._whole = {}, ""


def _digest(value: object) -> bytes:
    return hashlib.blake2b(json.dumps(value, separators=(",", ":")).encode(), digest_size=16).digest()


def record_case(
    state: CaseState,
    events: Sequence[CaseEvent],
    retired: Sequence[RetiredClock] = (),
    notifications: Sequence[Notification] = (),
    delta: StateDelta | None = None,
) -> RecordCase:
    """The record of `state` with its new `events`; without `delta`, it carries the whole state."""
    dumped = state.model_dump(mode="json")
    fields, base, digest = (delta or StateDelta()).moved(dumped)
    return RecordCase(
        row=case_row(state, dumped),
        state=fields,
        base=base,
        digest=digest,
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
