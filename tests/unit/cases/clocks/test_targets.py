"""Clock targets at the opening of a case (S1.2-S1.5, S2.2): the targets of each tier, the VIP
first-response and logistics overrides (which only tighten), the 80 % warning instant, the
working-day closure clock and the starting escalation level.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from cases.models import ClockState, Status, Tier
from tests.support.machine import CL, FR, HOUR, IH, MINUTE, RES, T0, general, open_case, shanghai

# A case opened at T0 (Monday 2 March 2026, 10:00 in Shanghai): 7 working days of 9 h end on
# Wednesday 11 March at 10:00; 80 % of them (50.4 h) on Monday 9 March at 15:24.
CLOSURE_DUE = shanghai(2026, 3, 11, 10)
CLOSURE_WARN = shanghai(2026, 3, 9, 15, 24)

TIERS = {
    # tier: (intake overrides, start level, (first response, initial handling, resolution) in h)
    Tier.GENERAL: ({"order_amount": "2000.00"}, 3, (24, 48, 72)),
    Tier.COMPLEX: ({"order_amount": "6000.00"}, 3, (24, 48, 72)),
    Tier.URGENT: ({"category": "safety", "order_amount": "899.00"}, 2, (1, 12, 24)),
}


def schedule(m, name) -> tuple[datetime | None, datetime | None, str, bool]:
    c = m.state.clocks[name]
    return c.due_at, c.warn_at, c.target_label, c.business


@pytest.mark.parametrize("tier", list(TIERS))
def test_each_tier_has_its_targets_and_start_level(policy, tier: Tier) -> None:
    overrides, level, (fr, ih, res) = TIERS[tier]
    m = open_case(policy, **overrides)
    s = m.state
    assert (s.tier, s.escalation_level, s.status, s.opened_at) == (tier, level, Status.REGISTERED, T0)
    assert schedule(m, FR) == (T0 + fr * HOUR, T0 + 0.8 * fr * HOUR, f"{fr}h", False)
    assert schedule(m, IH) == (T0 + ih * HOUR, T0 + 0.8 * ih * HOUR, f"{ih}h", False)
    assert schedule(m, RES) == (T0 + res * HOUR, T0 + 0.8 * res * HOUR, f"{res}h", False)
    assert schedule(m, CL) == (CLOSURE_DUE, CLOSURE_WARN, "7wd", True)
    for clock in s.clocks.values():
        assert (clock.started_at, clock.running_since, clock.state) == (T0, T0, ClockState.RUNNING)
    assert set(s.clocks) == {FR, IH, RES, CL}
    assert m.events[0].data["escalation_level"] == level
    assert m.events[0].data["tier"] == tier.value


def test_the_opening_events_and_the_acknowledgement(policy) -> None:
    m = general(policy)
    assert [(e.seq, e.type, e.data.get("clock") or e.data.get("kind")) for e in m.events] == [
        (1, "opened", None),
        (2, "clock_started", "first_response"),
        (3, "clock_started", "initial_handling"),
        (4, "clock_started", "resolution"),
        (5, "clock_started", "closure"),
        (6, "notification_queued", "acknowledgement"),
    ]
    assert m.events[1].data == {
        "clock": "first_response", "target": "24h",
        "due_at": (T0 + 24 * HOUR).isoformat(), "warn_at": (T0 + 19.2 * HOUR).isoformat(),
    }
    [notice] = m.notifications
    assert (notice.key, notice.recipient, [c.value for c in notice.channels]) == (
        f"{m.state.case_id}:6:acknowledgement", "cust-1", ["sms", "email", "push"],
    )
    assert "will be handled as general" in notice.body
    assert m.state.notifications == [notice.key]


@pytest.mark.parametrize(
    ("customer", "channel", "channels"),
    [
        ({"id": "c", "phone": "+8613800000000"}, "web", ["sms"]),
        ({"id": "c", "email": "a@b.cn"}, "phone", ["email"]),
        ({"id": "c"}, "web", ["push"]),  # no other channel
        ({"id": "c", "email": "a@b.cn"}, "app", ["email", "push"]),
    ],
)
def test_customer_notices_go_by_the_channels_the_customer_has(policy, customer, channel, channels) -> None:
    m = general(policy, customer=customer, channel=channel)
    assert [c.value for c in m.notifications[0].channels] == channels  # S4.2


@pytest.mark.parametrize("overrides", [{}, {"category": "safety"}, {"order_amount": "6000.00"}])
def test_vip_first_response_is_fifteen_minutes_whatever_the_tier(policy, overrides) -> None:
    plain = open_case(policy, **overrides)
    vip = open_case(policy, customer_tier="vip", **overrides)
    assert schedule(vip, FR) == (T0 + 15 * MINUTE, T0 + 12 * MINUTE, "15m", False)
    assert vip.state.clocks[FR].target_seconds == 900.0
    for name in (IH, RES, CL):  # the override only touches the first response
        assert schedule(vip, name) == schedule(plain, name)


def test_logistics_answers_in_four_hours_and_resolves_in_twenty_four(policy) -> None:
    m = general(policy, category="logistics")
    assert m.state.tier == Tier.GENERAL
    assert schedule(m, FR) == (T0 + 4 * HOUR, T0 + 3.2 * HOUR, "4h", False)
    assert schedule(m, IH) == (T0 + 48 * HOUR, T0 + 38.4 * HOUR, "48h", False)
    assert schedule(m, RES) == (T0 + 24 * HOUR, T0 + 19.2 * HOUR, "24h", False)
    assert schedule(m, CL) == (CLOSURE_DUE, CLOSURE_WARN, "7wd", True)


def test_an_override_never_loosens_a_tighter_tier_target(policy) -> None:
    urgent = general(policy, category="logistics", flags={"safety_risk": True})
    assert urgent.state.tier == Tier.URGENT
    assert schedule(urgent, FR) == (T0 + HOUR, T0 + 0.8 * HOUR, "1h", False)  # not 4 h
    assert schedule(urgent, RES) == (T0 + 24 * HOUR, T0 + 19.2 * HOUR, "24h", False)
    vip = general(policy, category="logistics", customer_tier="vip")
    assert schedule(vip, FR)[2] == "15m"  # category first, then the stricter customer override
    assert schedule(vip, RES)[2] == "24h"


@pytest.mark.parametrize(
    ("overrides", "tier", "team"),
    [
        ({"flags": {"outage": True}}, Tier.URGENT, "customer_service"),
        ({"flags": {"cross_department": True}}, Tier.COMPLEX, "customer_service"),
        ({"flags": {"major_complaint": True}}, Tier.COMPLEX, "major_complaints"),
        ({"order_amount": "5000.00"}, Tier.COMPLEX, "customer_service"),
        ({"order_amount": "4999.99"}, Tier.GENERAL, "customer_service"),
    ],
)
def test_the_intake_sets_tier_team_and_level(policy, overrides, tier, team) -> None:
    m = open_case(policy, **overrides)
    assert (m.state.tier, m.state.team) == (tier, team)
    assert m.state.escalation_level == (2 if tier == Tier.URGENT else 3)
    assert m.state.clocks[FR].target_label == ("1h" if tier == Tier.URGENT else "24h")
