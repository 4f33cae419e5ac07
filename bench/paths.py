"""Per path of a case (explanation or refund, with or without a follow-up visit): history events,
workflow tasks and Temporal Cloud billable actions per case, and what 1,000 such cases cost at the
list price, for the real case and the business-minimal no-op. The general path is a general-tier
case from open to closed without a follow-up: both resolutions of it are held to the targets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from temporalio.client import WorkflowHistory

from bench.actions import LIST_PRICE_PER_MILLION_USD, billable, cost_usd, describe
from bench.env import ClientCalls
from bench.report import Report

PathKey = tuple[str, bool]

GENERAL_PATHS: tuple[PathKey, ...] = (("explanation", False), ("refund", False))
MAX_EVENTS = 40
# Held on the explanation path: a refund adds the money activity and the task its result wakes.
MAX_ACTIONS = 12
ACTIONS_PATH: PathKey = ("explanation", False)


def path_name(key: PathKey) -> str:
    return key[0] + (" + follow-up" if key[1] else "")


@dataclass
class PathFigures:
    runs: int = 0
    events: float = 0.0
    workflow_tasks: float = 0.0
    actions: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)


def figures(histories: Sequence[WorkflowHistory], calls: ClientCalls) -> PathFigures:
    out = PathFigures(runs=len(histories))
    if not histories:
        return out
    for history in histories:
        events = list(history.events)
        out.events += len(events)
        out.workflow_tasks += sum(
            1 for e in events if e.WhichOneof("attributes") == "workflow_task_completed_event_attributes"
        )
        kinds = billable(
            events,
            queries=calls.queries[history.workflow_id],
            update_calls=calls.updates[history.workflow_id],
        )
        out.kinds.update(kinds)
        out.actions += sum(kinds.values())
    out.events /= len(histories)
    out.workflow_tasks /= len(histories)
    out.actions /= len(histories)
    return out


def report(
    rep: Report,
    real: Mapping[PathKey, Sequence[WorkflowHistory]],
    baseline: Mapping[PathKey, Sequence[WorkflowHistory]],
    calls: ClientCalls,
    source: str,
) -> None:
    section = f"1b. history and billable actions per case, by path ({source})"
    price = f"${LIST_PRICE_PER_MILLION_USD:g} per million actions"
    found: dict[PathKey, tuple[PathFigures, PathFigures]] = {}
    for key in sorted(real):
        r, b = figures(real[key], calls), figures(baseline.get(key, []), calls)
        found[key] = (r, b)
        name = path_name(key)
        base = b if b.runs else None
        rep.add(
            section,
            f"{name}: history events",
            r.events,
            base.events if base else None,
            "events",
            "{:.1f}",
            note=f"{r.runs} case(s)",
        )
        rep.add(
            section,
            f"{name}: workflow tasks",
            r.workflow_tasks,
            base.workflow_tasks if base else None,
            "",
            "{:.1f}",
        )
        rep.add(
            section,
            f"{name}: billable actions",
            r.actions,
            base.actions if base else None,
            "actions",
            "{:.1f}",
        )
        rep.add(
            section,
            f"{name}: 1,000 cases at {price}",
            cost_usd(r.actions),
            cost_usd(base.actions) if base else None,
            "USD",
            "{:.2f}",
        )
    for key, (r, b) in found.items():
        rep.note(section, f"{path_name(key)}, real: {describe(r.kinds, r.runs) or 'none'}")
        if b.runs:
            rep.note(section, f"{path_name(key)}, no-op: {describe(b.kinds, b.runs) or 'none'}")
    rep.note(
        section,
        "billable actions by Temporal Cloud's rules (see bench/actions.py), from each history plus "
        "the queries and rejected updates the client sent; list price from "
        "https://docs.temporal.io/cloud/pricing (Pay-As-You-Go, before volume discounts)",
    )
    general = [(k, found[k]) for k in GENERAL_PATHS if k in found]
    if not general:
        return
    worst_events = max(r.events for _, (r, _) in general)
    rep.target(
        f"history events on the general path <= {MAX_EVENTS}",
        worst_events <= MAX_EVENTS,
        "; ".join(
            f"{path_name(k)} {r.events:.1f} (no-op {b.events:.1f})" for k, (r, b) in general
        ),
    )
    if ACTIONS_PATH not in found:
        return
    r, b = found[ACTIONS_PATH]
    rep.target(
        f"billable actions on the {path_name(ACTIONS_PATH)} path <= {MAX_ACTIONS}",
        r.actions <= MAX_ACTIONS,
        f"{r.actions:.1f} (no-op {b.actions:.1f}), "
        f"1,000 cases ${cost_usd(r.actions):.2f} vs ${cost_usd(b.actions):.2f}",
    )
