"""The live clock table shown as a case's current details in the Temporal UI (markdown)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from cases.clocks.specs import CLOCKS, LABELS
from cases.models import CaseState


def clock_table(state: CaseState, zone: tzinfo) -> str:

    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else "—"

    lines = [
        f"**{state.tier.value}** · {state.category.value} · order {state.intake.order_id} · "
        f"status **{state.status.value}** · escalation level {state.escalation_level}"
        + (f" · reopened {state.reopen_count}×" if state.reopen_count else ""),
        "",
        "| clock | whose | target | state | due | warned | breached | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines[1:1] = _legs(state, local)
    for clock in state.clocks.values():
        lines.append(
            f"| {LABELS[clock.name]} | {CLOCKS[clock.name].owner.value} | {clock.target_label} | {clock.state.value} | "
            f"{local(clock.due_at or clock.breached_at)} | {local(clock.warned_at)} | "
            f"{local(clock.breached_at)} | {local(clock.met_at)} |"
        )
    return "\n".join(lines)


def _legs(state: CaseState, local: Callable[[datetime | None], str]) -> list[str]:
    """A line for a return or a repair under way: what the warehouse or the field service sees."""
    leg, job = state.return_leg, state.repair
    lines: list[str] = []
    request = state.request
    if request is not None:
        rule = request.eligibility.rule
        lines.append(
            f"buyer asks **{request.remedy.value}** ({request.reason.value}) · "
            + (f"the law entitles it: {rule}" if rule else "not a legal entitlement")
            + f" · merchant: {request.answer.value if request.answer else 'to answer'}"
        )
    found = state.intervention
    if found is not None:
        ruled = found.ruling
        lines.append(
            f"platform intervention: stage **{found.stage.name.lower().replace('_', ' ')}** · asked by the "
            f"{found.party.value} · {len(found.evidence)} evidence"
            + (f" · ruled {ruled.decision.value} {ruled.amount} by {', '.join(found.arbiters)}" if ruled else "")
            + (f" · appealed by the {found.appealed_by.value}" if found.appealed_by else "")
            + (f" · platform paid {found.platform_paid}" if found.platform_paid else "")
        )
    if leg is not None:
        parts = [f"return **{leg.rma}**"]
        if leg.tracking_number:
            parts.append(f"{leg.carrier} {leg.tracking_number}")
        if leg.delivered_at:
            parts.append(f"delivered {local(leg.delivered_at)}")
        if leg.received_at:
            parts.append(f"received {local(leg.received_at)}")
        if leg.inspection:
            parts.append(f"inspection {leg.inspection.value}" + (" (silence)" if leg.passed_by_silence else ""))
        lines.append(" · ".join(parts))
    if job is not None:
        parts = [f"repair ({job.mode.value.replace('_', '-')})"]
        if job.booking:
            parts.append(f"booking {job.booking} for {local(job.scheduled_for)}")
        if job.outcome:
            parts.append(job.outcome.value.replace("_", " ") + (f", record {job.record}" if job.record else ""))
        lines.append(" · ".join(parts))
    routing = state.routing
    if routing.status.value in ("queued", "assigned"):
        if routing.status.value == "queued":
            line = f"waiting in the queue of team **{routing.team}** since {local(routing.queued_at)}"
            if routing.recheck_at:
                line += f" · asks again {local(routing.recheck_at)}"
        else:
            line = f"handler **{state.handler}** · team {routing.team}"
            if routing.accept_by:
                line += f" · to accept by {local(routing.accept_by)}"
        lines.append(line + (f" · passed over {routing.bypasses}×" if routing.bypasses else ""))
    if state.resolution is not None and state.resolution.proof:
        lines.append("proof: " + ", ".join(f"{k} {v}" for k, v in state.resolution.proof.items()))
    return ["", *lines] if lines else []
