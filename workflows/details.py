"""The live clock table shown as a case's current details in the Temporal UI (markdown)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from cases.models import CaseState
from cases.sla import LABELS


def clock_table(state: CaseState, zone: tzinfo) -> str:

    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else "—"

    lines = [
        f"**{state.tier.value}** · {state.category.value} · order {state.intake.order_id} · "
        f"status **{state.status.value}** · escalation level {state.escalation_level}"
        + (f" · reopened {state.reopen_count}×" if state.reopen_count else ""),
        "",
        "| clock | target | state | due | warned | breached | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for clock in state.clocks.values():
        lines.append(
            f"| {LABELS[clock.name]} | {clock.target_label} | {clock.state.value} | "
            f"{local(clock.due_at or clock.breached_at)} | {local(clock.warned_at)} | "
            f"{local(clock.breached_at)} | {local(clock.met_at)} |"
        )
    return "\n".join(lines)
