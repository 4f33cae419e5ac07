"""Which business counters a batch of audit events moves, and with which labels.

Pure, so the mapping is tested without a worker; the workflow adds the counts through its
replay-safe meter (`workflows/meter.py`). Every label is an enumeration (tier, clock,
category, channel, plan): never an id, a name or free text, so a metric can hold no personal
data and the number of series stays small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cases.models import CaseEvent

CASES_OPENED = "aftersales_cases_opened"
SLA_WARNINGS = "aftersales_sla_warnings"
SLA_BREACHES = "aftersales_sla_breaches"
ESCALATIONS = "aftersales_escalations"
RESOLUTIONS = "aftersales_resolutions"
ACTIONS = "aftersales_actions"

COUNTERS: dict[str, str] = {
    CASES_OPENED: "Cases opened, by tier, category and channel",
    SLA_WARNINGS: "SLA warnings (a clock reached its warning fraction), by clock and tier",
    SLA_BREACHES: "SLA breaches (a clock passed its target), by clock and tier",
    ESCALATIONS: "Escalations one level up, by the clock whose breach caused them (none: by hand) and tier",
    RESOLUTIONS: "Resolutions carried out, by plan",
    ACTIONS: "Actions applied to cases, by action",
}

# An escalation that follows no breach (asked for by a person, or a failed resolution step).
NO_CLOCK = "none"


@dataclass(frozen=True)
class Count:
    metric: str
    labels: dict[str, str]


def counts(events: Iterable[CaseEvent], tier: str) -> list[Count]:
    """The counters `events` move. `tier` is the case's tier when they were recorded."""
    out: list[Count] = []
    breached: str | None = None
    for event in events:
        data = event.data
        if event.type == "opened":
            out.append(Count(CASES_OPENED, {
                "tier": str(data.get("tier", tier)),
                "category": str(data.get("category", "other")),
                "channel": str(data.get("channel", "other")),
            }))
        elif event.type == "clock_warning":
            out.append(Count(SLA_WARNINGS, {"clock": str(data.get("clock")), "tier": tier}))
        elif event.type == "clock_breached":
            out.append(Count(SLA_BREACHES, {"clock": str(data.get("clock")), "tier": tier}))
        elif event.type == "escalated":
            # The machine escalates in the same step as the breach that caused it.
            clock = breached if event.actor == "system" and breached else NO_CLOCK
            out.append(Count(ESCALATIONS, {"clock": clock, "tier": tier}))
        elif event.type == "resolution_executed":
            out.append(Count(RESOLUTIONS, {"plan": str(data.get("type"))}))
        if event.type != "notification_queued":
            breached = str(data.get("clock")) if event.type == "clock_breached" else None
    return out
