"""How every case is started: its workflow id, reuse policy, attributes at start, UI summary and
details (`start_options`), and the intake in the form every worker build still served reads
(`start_input`).

A 1.2 worker's intake has no merchant and no reach flags, and refuses fields it does not know.
So a default-merchant case leaves its merchant out, and the reach flags go only when they say
something the contact details do not (the worker derives them from those details otherwise).
A client of this version can then open cases while the deployment's current build is still 1.2.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import Priority, SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy

from cases.ids import DEFAULT_MERCHANT, workflow_id_for
from cases.models import CaseIntake, CaseState, Customer
from workflows import search_attributes as sa
from workflows.run_input import CaseRun

_REACH_FLAGS = ("reachable_by_sms", "reachable_by_email")


def start_input(intake: CaseIntake, run: CaseRun | None = None) -> dict[str, Any]:
    data = intake.model_dump(mode="json")
    if intake.merchant_id == DEFAULT_MERCHANT:
        del data["merchant_id"]
    if intake.request is None:
        del data["request"]  # a 1.3 worker does not know it
    # What the contact details imply, by the model's own rule: those flags the worker derives again.
    implied = Customer.model_validate(intake.customer.model_dump(exclude=set(_REACH_FLAGS)))
    for flag in _REACH_FLAGS:
        if getattr(intake.customer, flag) == getattr(implied, flag):
            del data["customer"][flag]
    data["resume"] = run.model_dump(mode="json") if run is not None else None
    return data


def static_summary(intake: CaseIntake, tier: str | None = None) -> str:
    parts = [tier] if tier else []
    parts += [intake.category.value, f"order {intake.order_id}"]
    if intake.customer.tier.value == "vip":
        parts.append("VIP")
    return " · ".join(parts)


def task_priority(merchant_id: str, priority: int | None, weight: float | None, fair: bool = True) -> Priority:
    """Urgent and VIP cases first when the workers are saturated (STANDARDS S12.4), and within a
    priority the merchants in turn, each weighted by its plan (S14.5). Its workflow tasks and its
    activities inherit it."""
    if not fair:
        return Priority(priority_key=priority) if priority else Priority.default
    return Priority(priority_key=priority or None, fairness_key=merchant_id, fairness_weight=weight)


def start_options(
    intake: CaseIntake,
    task_queue: str,
    opening: CaseState | None = None,
    priority: int | None = None,
    weight: float | None = None,
    fair: bool = True,
) -> dict[str, Any]:
    """How every case is started (id, reuse policy, attributes at start, UI summary and details).

    `opening` is the state the case will be in when its first workflow task ends, worked out here
    by the same pure machine. Attributes given at start cost no upsert; the workflow's first task
    upserts only those that differ (a worker whose policy decides otherwise).
    """
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.MERCHANT_ID, intake.merchant_id),
        SearchAttributePair(sa.CASE_STATUS, opening.status.value if opening else "registered"),
        SearchAttributePair(sa.CASE_CATEGORY, intake.category.value),
        SearchAttributePair(sa.CUSTOMER_TIER, intake.customer.tier.value),
        SearchAttributePair(sa.ORDER_ID, intake.order_id),
    ]
    tier = None
    if opening is not None:
        tier = opening.tier.value
        pairs += [
            SearchAttributePair(sa.CASE_TIER, tier),
            SearchAttributePair(sa.ESCALATION_LEVEL, opening.escalation_level),
            SearchAttributePair(sa.SLA_STATE, opening.sla_state),
        ]
        due = sa.next_due(opening)
        if due is not None:
            pairs.append(SearchAttributePair(sa.SLA_DUE_AT, due))
        pairs += [SearchAttributePair(sa.CASE_TEAM, opening.team or "")]
        if opening.handler:  # the roster may still decide another handler
            pairs.append(SearchAttributePair(sa.CASE_HANDLER, opening.handler))
    return {
        "id": workflow_id_for(intake.key),
        "task_queue": task_queue,
        "priority": task_priority(intake.merchant_id, priority, weight, fair),
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "search_attributes": TypedSearchAttributes(pairs),
        "static_summary": static_summary(intake, tier),
        # Summaries stay readable in the UI without the codec, so they carry ids and amounts
        # only: never contact details or the customer's free-text description.
        "static_details": (
            f"**Customer** {intake.customer.id} ({intake.customer.tier.value}) · "
            f"**channel** {intake.channel.value} · **amount** {intake.order_amount} "
            f"{intake.currency} · **requested** "
            f"{intake.requested_resolution.value if intake.requested_resolution else 'n/a'}"
        ),
    }
