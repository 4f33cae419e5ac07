"""Which counters a case's audit events move: from events the machine really emits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from cases.models import Acknowledge, ClockName, Escalate, ProposeResolution, ResolutionType
from cases.policy.snapshot import Policy
from cases.views.metric_events import (
    CASES_OPENED,
    ESCALATIONS,
    NO_CLOCK,
    RESOLUTIONS,
    SLA_BREACHES,
    SLA_WARNINGS,
    counts,
)
from tests.support.machine import T0, executed, general


def drain(machine):  # type: ignore[no-untyped-def]
    events, machine.events = machine.events, []
    return events


def test_opening_counts_one_case_with_its_tier_category_and_channel(policy: Policy) -> None:
    m = general(policy)
    found = counts(drain(m), m.state.tier.value)
    assert [(c.metric, c.labels) for c in found] == [
        (CASES_OPENED, {"tier": "general", "category": "description_mismatch", "channel": "app"})
    ]


def test_a_missed_target_counts_its_warning_breach_and_the_escalation_it_caused(policy: Policy) -> None:
    m = general(policy)
    drain(m)
    due = m.state.clocks[ClockName.FIRST_RESPONSE].due_at
    assert due is not None
    m.fire_due(due + timedelta(seconds=1))
    found = [(c.metric, c.labels) for c in counts(drain(m), "general")]
    wanted = {"clock": "first_response", "tier": "general"}
    assert found.count((SLA_WARNINGS, wanted)) == 1
    assert found.count((SLA_BREACHES, wanted)) == 1
    assert found.count((ESCALATIONS, wanted)) == 1
    assert all(metric != ESCALATIONS or labels["clock"] != NO_CLOCK for metric, labels in found)


def test_an_escalation_asked_for_by_a_person_names_no_clock(policy: Policy) -> None:
    m = general(policy)
    drain(m)
    m.apply("escalate", Escalate(actor="agent-1", reason="customer called twice"), T0 + timedelta(minutes=5))
    found = [(c.metric, c.labels) for c in counts(drain(m), "general")]
    assert found == [(ESCALATIONS, {"clock": NO_CLOCK, "tier": "general"})]


def test_a_resolution_counts_its_plan(policy: Policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(actor="a"), T0)
    m.apply(
        "propose_resolution",
        ProposeResolution(actor="a", type=ResolutionType.REFUND, amount=Decimal("20.00")),
        T0 + timedelta(minutes=1),
    )
    drain(m)
    m.resolution_executed(executed("refund"), T0 + timedelta(minutes=2))
    found = [(c.metric, c.labels) for c in counts(drain(m), "general")]
    assert found == [(RESOLUTIONS, {"plan": "refund"})]
