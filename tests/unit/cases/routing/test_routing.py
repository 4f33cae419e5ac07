"""The pure parts of dispatch: who takes a case, queue order, shifts, and what the case does with
the roster's answers (STANDARDS S12.2, S12.3)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cases.clocks.calendar import BusinessCalendar
from cases.core.machine import CaseMachine
from cases.models import Acknowledge, Assign, Reclassify, RequestInfo, Status, Tier, Withdraw
from cases.policy.snapshot import load_policy
from cases.routing import dispatch, placement
from cases.routing.models import Presence, Requirement, RoutingChange, RoutingOp, RoutingStatus
from tests.support.machine import SHANGHAI, T0, general, open_case, snapshot_for

ZH = Requirement(category="logistics", tier="general", language="zh")


def seat(agent_id: str, *, load: int = 0, capacity: int = 5, skills: list[str] | None = None,
         presence: Presence = Presence.AVAILABLE, last: datetime | None = None) -> dispatch.Seat:
    return dispatch.Seat(agent_id=agent_id, skills=skills or [], capacity=capacity, load=load,
                         presence=presence, last_assigned_at=last)


def waiting(case_id: str, requirement: Requirement = ZH, priority: int = 3,
            at: datetime = T0, excluded: list[str] | None = None) -> dispatch.Waiting:
    return dispatch.Waiting(case_id=case_id, requirement=requirement, priority=priority,
                            queued_at=at, excluded=excluded or [])


def test_the_agent_with_the_skill_and_most_spare_seats_wins_ties_to_the_longest_idle() -> None:
    seats = [
        seat("en", skills=["lang:en"], load=0),
        seat("busy", skills=["lang:zh"], load=3),
        seat("free", skills=["lang:zh"], load=1),
        seat("away", skills=["lang:zh"], presence=Presence.AWAY),
        seat("full", capacity=2, load=2),
    ]
    assert dispatch.best_seat(seats, waiting("c"), []).agent_id == "free"  # type: ignore[union-attr]
    tied = [seat("b", last=T0), seat("a", last=T0 + timedelta(minutes=1)), seat("c", last=T0)]
    assert dispatch.best_seat(tied, waiting("c"), []).agent_id == "b"  # type: ignore[union-attr]
    assert dispatch.best_seat([seat("x"), seat("y", last=T0)], waiting("c"), []).agent_id == "x"  # type: ignore[union-attr]
    assert dispatch.best_seat(seats[1:2], waiting("c", excluded=["busy"]), []) is None


@pytest.mark.parametrize(
    ("skills", "team_skills", "requirement", "ok"),
    [
        ([], [], ZH, True),
        (["category:billing"], [], ZH, False),
        (["category:logistics", "lang:en"], [], ZH, False),
        ([], ["lang:en"], ZH, False),  # an agent without skills has the team's
        (["lang:zh"], ["lang:en"], ZH, True),  # their own skills come first
        (["tier:urgent"], [], ZH, False),
    ],
)
def test_skills_restrict_only_the_kinds_they_name(skills, team_skills, requirement, ok) -> None:
    found = dispatch.best_seat([seat("a", skills=skills)], waiting("c", requirement), team_skills)
    assert (found is not None) is ok


def test_a_vip_case_needs_a_vip_agent_only_in_a_team_that_has_one() -> None:
    vip = waiting("c", Requirement(category="logistics", tier="general", language="zh", vip=True))
    assert dispatch.best_seat([seat("plain")], vip, []) is not None
    both = [seat("plain", load=0), seat("v", skills=["vip"], load=4)]
    assert dispatch.best_seat(both, vip, []).agent_id == "v"  # type: ignore[union-attr]


def test_the_queue_is_served_most_urgent_first_then_in_arrival_order_without_blocking() -> None:
    needs_en = Requirement(category="logistics", tier="general", language="en")
    queue = [
        waiting("old", at=T0),
        waiting("english", needs_en, at=T0 - timedelta(hours=1)),  # nobody speaks it: skipped
        waiting("urgent", priority=1, at=T0 + timedelta(minutes=5)),
        waiting("new", at=T0 + timedelta(minutes=1)),
    ]
    seats = [seat("a", skills=["lang:zh"], capacity=1), seat("b", skills=["lang:zh"], capacity=1)]
    chosen = dispatch.drain(queue, seats, [], T0)
    assert [(w.case_id, s.agent_id) for w, s in chosen] == [("urgent", "a"), ("old", "b")]
    assert [s.load for s in seats] == [1, 1]


def test_shifts_follow_the_business_calendar() -> None:
    calendar = snapshot_for_calendar()
    monday_night = datetime(2026, 3, 2, 21, 0, tzinfo=SHANGHAI)
    assert not dispatch.on_shift("09:00-18:00", calendar, monday_night)
    assert dispatch.on_shift("09:00-18:00", calendar, monday_night.replace(hour=9))
    assert not dispatch.on_shift("09:00-18:00", calendar, monday_night.replace(hour=18))
    assert dispatch.on_shift(None, calendar, monday_night)
    assert dispatch.next_shift_start("09:00-18:00", calendar, monday_night) == datetime(
        2026, 3, 3, 9, 0, tzinfo=SHANGHAI
    )
    friday_night = datetime(2026, 3, 6, 21, 0, tzinfo=SHANGHAI)  # the weekend is skipped
    assert dispatch.next_shift_start("09:00-18:00", calendar, friday_night) == datetime(
        2026, 3, 9, 9, 0, tzinfo=SHANGHAI
    )
    for bad in ("9-18", "18:00-09:00", "25:00-26:00"):
        with pytest.raises(ValueError, match="hours"):
            dispatch.parse_hours(bad)
    with pytest.raises(ValueError, match="skill"):
        dispatch.check_skill("cat:foo")


def snapshot_for_calendar() -> BusinessCalendar:
    return snapshot_for(load_policy(None), T0).calendar


# -- the case's side ------------------------------------------------------------------------------


def change(m: CaseMachine, seq: int, status: RoutingStatus, agent: str | None = None,
           at: datetime = T0, next_check_at: datetime | None = None) -> RoutingChange:
    return RoutingChange(case_id=m.state.case_id, workflow_id=m.state.workflow_id, seq=seq,
                         status=status, team="cs", agent=agent, lead="lead-1", at=at,
                         next_check_at=next_check_at)


def test_a_new_case_asks_to_be_placed_in_the_team_its_rules_name(policy) -> None:
    m = general(policy)
    assert m.state.team == "customer_service" and placement.pending(m.state) == RoutingOp.PLACE
    major = open_case(policy, flags={"major_complaint": True})
    assert major.state.team == "major_complaints"
    request = placement.request(major, T0)
    assert request.team == "major_complaints" and request.priority == 3
    urgent = open_case(policy, description="充電寶冒煙了")
    assert placement.priority(urgent) == 1
    assert placement.requirement(urgent.state).language == "zh"
    vip = open_case(policy, customer_tier="vip")
    assert placement.priority(vip) == 2 and placement.requirement(vip.state).vip


def test_a_late_answer_never_undoes_a_newer_one_and_queue_time_is_counted(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.QUEUED), T0)
    assert m.state.routing.status == RoutingStatus.QUEUED and m.state.routing.op is None
    later = T0 + timedelta(minutes=10)
    m.routing_notice(change(m, 2, RoutingStatus.ASSIGNED, "agent-1", at=later), later)
    m.routing_notice(change(m, 1, RoutingStatus.QUEUED, at=later), later)  # late: ignored
    r = m.state.routing
    assert r is not None and m.state.handler == "agent-1" and r.status == RoutingStatus.ASSIGNED
    assert r.queue_seconds == 600 and r.first_assigned_at == later
    assert r.accept_by == later + timedelta(hours=2)
    assert [e.type for e in m.events].count("assigned") == 1


def test_the_acceptance_window_passes_over_the_agent_at_its_instant(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.ASSIGNED, "agent-1"), T0)
    deadline = T0 + timedelta(hours=2)
    assert (deadline, "agent-1 to accept by 03-02 12:00") in placement.next_wake(m)
    m.fire_due(deadline - timedelta(microseconds=1))
    assert m.state.handler == "agent-1"
    m.fire_due(deadline)
    r = m.state.routing
    assert r is not None and m.state.handler is None and r.excluded == ["agent-1"]
    assert r.op == RoutingOp.PLACE and r.bypasses == 1
    bypass = next(e for e in m.events if e.type == "assignment_bypassed")
    assert bypass.data["accept_by"] == deadline.isoformat()
    assert m.notifications[-1].recipient == "lead-1"
    assert placement.request(m, deadline).excluded == ["agent-1"]


def test_acknowledging_ends_the_window_and_taking_a_queued_case_claims_it(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.ASSIGNED, "agent-1"), T0)
    m.apply("acknowledge", Acknowledge(actor="agent-1"), T0 + timedelta(minutes=5))
    assert m.state.routing.accept_by is None
    q = general(policy)
    q.routing_settled(RoutingOp.PLACE, change(q, 1, RoutingStatus.QUEUED), T0)
    q.apply("acknowledge", Acknowledge(actor="agent-9"), T0 + timedelta(minutes=1))
    assert q.state.routing.op == RoutingOp.TAKE and q.state.routing.take_agent == "agent-9"
    a = general(policy)
    a.apply("assign", Assign(actor="sup", handler="agent-3"), T0)
    assert placement.request(a, T0).agent == "agent-3"


def test_an_ended_case_gives_its_seat_back_once(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.ASSIGNED, "agent-1"), T0)
    m.apply("withdraw", Withdraw(reason="no longer needed"), T0 + timedelta(hours=1))
    assert m.state.status == Status.WITHDRAWN and placement.pending(m.state) == RoutingOp.RELEASE
    m.routing_settled(RoutingOp.RELEASE, change(m, 2, RoutingStatus.RELEASED, "agent-1"), T0)
    assert placement.pending(m.state) is None and m.events[-1].type == "load_released"
    unrouted = general(policy)
    unrouted.routing_settled(RoutingOp.PLACE, change(unrouted, 1, RoutingStatus.UNROUTED), T0)
    unrouted.apply("withdraw", Withdraw(reason="x"), T0)
    assert placement.pending(unrouted.state) is None


def test_the_description_sets_flags_the_backend_left_unset_and_reclassify_takes_them_back(policy) -> None:
    m = open_case(policy, category="product_quality", description="充电宝冒烟了")
    assert m.state.tier == Tier.URGENT and m.state.intake.flags.safety_risk
    event = next(e for e in m.events if e.type == "classified_from_text")
    assert event.data == {"flags": ["safety_risk"], "phrases": {"safety_risk": ["冒烟"]}}
    m.apply("reclassify", Reclassify(actor="sup", flags={"safety_risk": False}, reason="a joke"), T0)
    assert m.state.tier == Tier.GENERAL and not m.state.intake.flags.safety_risk
    already = open_case(policy, description="冒烟", flags={"safety_risk": True})
    assert not [e for e in already.events if e.type == "classified_from_text"]
    plain = open_case(policy, description="颜色和图片不一样")
    assert plain.state.tier == Tier.GENERAL



def test_a_case_no_team_took_still_counts_the_seat_a_person_gives_it(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 0, RoutingStatus.UNROUTED), T0)
    assert m.state.routing.status == RoutingStatus.UNROUTED
    m.apply("assign", Assign(actor="sup", handler="agent-3"), T0)
    m.routing_settled(RoutingOp.TAKE, change(m, 1, RoutingStatus.ASSIGNED, "agent-3"), T0)
    assert m.state.routing.status == RoutingStatus.ASSIGNED
    m.apply("withdraw", Withdraw(reason="x"), T0)
    assert placement.pending(m.state) == RoutingOp.RELEASE


def test_an_assignment_made_while_the_placement_is_asked_ends_with_the_rosters_word(policy) -> None:
    m = general(policy)
    m.apply("assign", Assign(actor="sup", handler="agent-2"), T0)  # the place is in flight
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.QUEUED), T0)
    assert placement.pending(m.state) == RoutingOp.TAKE  # the take is still to ask
    m.routing_settled(RoutingOp.TAKE, change(m, 2, RoutingStatus.ASSIGNED, "agent-2"), T0, "agent-2")
    assert m.state.handler == "agent-2" and placement.pending(m.state) is None


def test_a_second_assignment_during_a_take_is_asked_next(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.ASSIGNED, "agent-1"), T0)
    m.apply("assign", Assign(actor="sup", handler="agent-2"), T0)
    m.apply("assign", Assign(actor="sup", handler="agent-3"), T0)  # while agent-2 is asked
    m.routing_settled(RoutingOp.TAKE, change(m, 2, RoutingStatus.ASSIGNED, "agent-2"), T0, "agent-2")
    assert placement.pending(m.state) == RoutingOp.TAKE and m.state.routing.take_agent == "agent-3"


def test_an_agent_already_working_the_case_is_never_passed_over(policy) -> None:
    m = general(policy)
    m.routing_settled(RoutingOp.PLACE, change(m, 1, RoutingStatus.ASSIGNED, "agent-1"), T0)
    m.apply("request_info", RequestInfo(actor="agent-1", question="Photo?"), T0 + timedelta(minutes=5))
    m.fire_due(T0 + timedelta(hours=3))
    assert m.state.handler == "agent-1" and m.state.routing.bypasses == 0
    assert not [e for e in m.events if e.type == "assignment_bypassed"]


@pytest.mark.parametrize(
    "bad",
    [
        {"status": RoutingStatus.ASSIGNED, "agent": None},
        {"status": RoutingStatus.UNROUTED},
        {"status": RoutingStatus.PENDING},
        {"case_id": "someone-else", "status": RoutingStatus.ASSIGNED, "agent": "agent-9"},
        {"status": RoutingStatus.QUEUED, "agent": "agent-9"},
    ],
)
def test_a_notice_that_cannot_be_the_rosters_word_is_refused(policy, bad) -> None:
    m = general(policy)
    notice = change(m, 7, RoutingStatus.QUEUED).model_copy(update=bad)
    before = m.state.model_copy(deep=True)
    assert m.routing_notice(notice, T0) is False
    assert m.state == before
