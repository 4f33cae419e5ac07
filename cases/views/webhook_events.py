"""What an outbound webhook may say about each audit event (STANDARDS S13.4).

An allow-list per event type: only the fields named here, or on the action's spec
(`cases/actions/registry.py`), leave the engine, so free text (messages, notes, reasons, comments,
questions, customer phrases, provider errors), recipients, staff ids and anything a new event adds
stay inside until someone decides otherwise. References
that work as credentials or lead to a person (coupon codes, tracking numbers, repair records) are
left out too. A subscriber asks for event types by these names, or `*` for all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cases.actions.registry import ACTIONS
from cases.models import CaseEvent

ALL_EVENTS = "*"

_CLOCK = frozenset({"clock", "target", "due_at", "warn_at"})

# The case's own events; an action's event names its fields on its spec (`cases/actions/registry.py`).
_CASE_EVENTS: dict[str, frozenset[str]] = {
    "opened": frozenset({"tier", "category", "channel", "order_id", "escalation_level"}),
    "classified_from_text": frozenset({"flags"}),
    "assigned": frozenset({"team", "queue_seconds", "accept_by"}),
    "queued": frozenset({"team", "next_check_at"}),
    "load_released": frozenset({"team"}),
    "assignment_bypassed": frozenset({"team", "accept_by"}),
    # Rules and instants only: an amendment carries nothing about the customer.
    "amended": frozenset(
        {"amendment_id", "years", "holidays_added", "holidays_removed", "workdays_added",
         "workdays_removed", "rules", "targets_amended", "clocks"}
    ),
    "resolution_executed": frozenset({"type", "amount"}),
    "resolution_failed": frozenset({"step"}),
    "accepted_by_silence": frozenset(),
    "quality_review_opened": frozenset({"score"}),
    "survey_timed_out": frozenset(),
    "follow_up_scheduled": frozenset({"reference", "scheduled_for"}),
    "follow_up_booking_superseded": frozenset({"reference"}),
    "reopened": frozenset({"reopen_count"}),
    "closed": frozenset(),
    "notification_queued": frozenset({"kind"}),
    "clock_started": _CLOCK,
    "clock_warning": _CLOCK,
    "clock_breached": _CLOCK | {"detected_at"},
    "clock_met": frozenset({"clock", "elapsed_seconds", "target_seconds", "on_time"}),
    "clock_paused": frozenset({"clock"}),
    "clock_resumed": frozenset({"clock", "due_at"}),
    "return_authorized": frozenset({"rma", "plan"}),
    "return_abandoned": frozenset({"rma"}),
    "return_lapsed": frozenset({"rma", "window_ended"}),
    "repair_requested": frozenset({"mode"}),
    "repair_booked": frozenset({"reference", "scheduled_for", "mode"}),
    "repair_booking_superseded": frozenset({"reference"}),
    # The merchant's silence decided, or its rejection of what the law entitles was refused (S15).
    "request_agreed_by_silence": frozenset({"remedy", "amount"}),
    "rejection_refused": frozenset({"rule", "remedy"}),
    # The platform stepping in (S16): stages, decisions and amounts; never evidence or reasons.
    "intervention_stage": frozenset({"stage"}),
    "evidence_closed": frozenset({"party", "silent"}),
    "ruled": frozenset({"decision", "amount", "appeal", "stage"}),
    "platform_pays_first": frozenset({"amount", "stage"}),
    "ruling_not_carried_out": frozenset({"decision"}),
    "ruling_final": frozenset(),
    "intervention_closed": frozenset({"stage"}),
    "recovery_settled": frozenset({"amount"}),
}


def _with_actions() -> dict[str, frozenset[str]]:
    # An event both an action and the case record (an assignment by the roster, an escalation on
    # a breach) may carry the fields of either.
    fields = dict(_CASE_EVENTS)
    for spec in ACTIONS.values():
        if spec.public is not None:
            fields[spec.event] = fields.get(spec.event, frozenset()) | spec.public
    return fields


PUBLIC_FIELDS: Mapping[str, frozenset[str]] = _with_actions()
EVENT_TYPES = frozenset(PUBLIC_FIELDS)


def public_data(event: CaseEvent) -> dict[str, Any]:
    """The fields of `event` a webhook may carry; none for an event type not listed."""
    allowed = PUBLIC_FIELDS.get(event.type, frozenset())
    return {k: v for k, v in event.data.items() if k in allowed}


def unknown_event_types(requested: list[str]) -> list[str]:
    return [t for t in requested if t != ALL_EVENTS and t not in EVENT_TYPES]
