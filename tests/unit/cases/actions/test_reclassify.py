"""Reclassification recomputes the clocks (S1.8): every open clock keeps its start and takes the
new tier's (or category's) target, met and breached clocks stay as they are, paused clocks take
the new target when they resume, and the escalation level can rise but never drops.
"""

from __future__ import annotations

from cases.models import (
    Acknowledge,
    Category,
    ClockState,
    CustomerReply,
    Dispute,
    Escalate,
    Reclassify,
    RequestInfo,
    Tier,
)
from tests.support.machine import CL, FR, HOUR, IH, MINUTE, RES, T0, general, open_case, resolve, since

TO_URGENT = Reclassify(actor="agent-1", tier=Tier.URGENT, reason="smoke from the charger")


def test_a_more_serious_tier_recomputes_the_clocks_from_the_open_instant(policy) -> None:
    m = general(policy)
    closure = (m.state.clocks[CL].due_at, m.state.clocks[CL].warn_at)
    m.apply("reclassify", TO_URGENT, T0 + 30 * MINUTE)
    c = m.state.clocks
    assert (c[FR].started_at, c[FR].due_at, c[FR].warn_at, c[FR].target_label) == (
        T0, T0 + HOUR, T0 + 48 * MINUTE, "1h",
    )
    assert (c[IH].due_at, c[IH].warn_at) == (T0 + 12 * HOUR, T0 + 9.6 * HOUR)
    assert (c[RES].due_at, c[RES].warn_at) == (T0 + 24 * HOUR, T0 + 19.2 * HOUR)
    assert (c[CL].due_at, c[CL].warn_at) == closure  # 7 working days for every tier
    assert (m.state.tier, m.state.escalation_level) == (Tier.URGENT, 2)  # urgent starts at 2
    assert m.events[-1].data["due"] == {n.value: c[n].due_at.isoformat() for n in (FR, IH, RES, CL)}
    assert m.events[-1].data["old_tier"] == "general"


def test_a_milder_tier_never_lowers_the_level(policy) -> None:
    m = open_case(policy, category="safety")
    assert (m.state.tier, m.state.escalation_level) == (Tier.URGENT, 2)
    m.apply("reclassify", Reclassify(tier=Tier.GENERAL), T0 + 10 * MINUTE)
    assert (m.state.tier, m.state.escalation_level) == (Tier.GENERAL, 2)
    assert m.state.clocks[FR].due_at == T0 + 24 * HOUR


def test_reclassifying_a_case_at_headquarters_keeps_it_there(policy) -> None:
    m = general(policy)
    m.apply("escalate", Escalate(reason="a"), T0 + MINUTE)
    m.apply("escalate", Escalate(reason="b"), T0 + 2 * MINUTE)
    m.apply("reclassify", TO_URGENT, T0 + 3 * MINUTE)
    assert m.state.escalation_level == 1
    m.apply("reclassify", Reclassify(tier=Tier.GENERAL), T0 + 4 * MINUTE)
    assert m.state.escalation_level == 1


def test_a_category_change_applies_the_category_override(policy) -> None:
    m = general(policy)
    m.apply("reclassify", Reclassify(category=Category.LOGISTICS), T0 + HOUR)
    c = m.state.clocks
    assert m.state.tier == Tier.GENERAL
    assert (c[FR].due_at, c[RES].due_at, c[IH].due_at) == (T0 + 4 * HOUR, T0 + 24 * HOUR, T0 + 48 * HOUR)


def test_a_met_clock_is_left_as_it_was(policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(), T0 + 2 * HOUR)  # met within 24 h, but not within 1 h
    m.apply("reclassify", TO_URGENT, T0 + 3 * HOUR)
    fr = m.state.clocks[FR]
    assert (fr.state, fr.met_at, fr.target_label, fr.breached_at) == (ClockState.MET, T0 + 2 * HOUR, "24h", None)
    assert "first_response" not in m.events[-1].data["due"]


def test_a_breached_clock_stays_breached_under_a_longer_target(policy) -> None:
    m = general(policy, category="logistics")
    m.fire_due(T0 + 4 * HOUR)
    assert m.state.escalation_level == 2
    m.apply("reclassify", Reclassify(category=Category.OTHER), T0 + 5 * HOUR)
    fr = m.state.clocks[FR]
    assert (fr.state, fr.breached_at, fr.due_at, fr.target_label) == (
        ClockState.BREACHED, T0 + 4 * HOUR, None, "24h",
    )
    assert m.state.escalation_level == 2


def test_a_paused_clock_takes_the_new_target_when_it_resumes(policy) -> None:
    m = general(policy)
    m.apply("request_info", RequestInfo(question="Photo?"), T0 + 2 * HOUR)
    m.apply("reclassify", TO_URGENT, T0 + 3 * HOUR)
    res = m.state.clocks[RES]
    assert (res.state, res.due_at, res.target_label) == (ClockState.PAUSED, None, "24h")
    m.apply("customer_reply", CustomerReply(), T0 + 5 * HOUR)
    assert m.state.clocks[RES].due_at == T0 + 5 * HOUR + 22 * HOUR  # 24 h less the 2 h used


def test_targets_already_past_breach_at_the_recomputed_instant(policy) -> None:
    m = general(policy)
    m.apply("reclassify", TO_URGENT, T0 + 10 * HOUR)
    last = m.state.last_seq
    m.fire_due(T0 + 10 * HOUR)
    fr, ih = m.state.clocks[FR], m.state.clocks[IH]
    assert (fr.warned_at, fr.breached_at, fr.breach_detected_at) == (T0 + 48 * MINUTE, T0 + HOUR, T0 + 10 * HOUR)
    assert (ih.warned_at, ih.breached_at) == (T0 + 9.6 * HOUR, None)
    assert [k for k in since(m, last) if k[0] != "notification_queued"] == [
        ("clock_warning", "first_response"), ("clock_breached", "first_response"),
        ("escalated", None), ("clock_warning", "initial_handling"),
    ]
    assert m.state.escalation_level == 1


def test_the_warning_notice_names_the_due_instant_even_when_the_breach_fires_with_it(policy) -> None:
    m = general(policy)
    m.apply("reclassify", TO_URGENT, T0 + 10 * HOUR)
    m.fire_due(T0 + 10 * HOUR)
    warning = next(n for n in m.notifications if n.kind == "sla_warning")
    assert warning.subject == f"first response SLA (urgent) due {(T0 + HOUR).isoformat()}"


def test_after_a_reopen_the_clocks_are_recomputed_from_the_reopening(policy) -> None:
    m = general(policy)
    done = resolve(m, T0 + HOUR)
    m.apply("dispute", Dispute(reason="still broken"), done + HOUR)
    m.apply("reclassify", TO_URGENT, done + 2 * HOUR)
    assert m.state.clocks[FR].due_at == done + HOUR + HOUR
    assert m.state.clocks[RES].due_at == done + HOUR + 24 * HOUR
