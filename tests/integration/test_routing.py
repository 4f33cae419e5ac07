"""Dispatch through the roster (STANDARDS S12.3) on the time-skipping server and PostgreSQL.

Every test has a team of its own, so the shared database's other rows never take part. Instants
are derived from what the workflow recorded, so the tests hold however slow the machine is.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cases.models import CaseState, Status
from cases.policy.intake import RoutingRule, RoutingSettings
from cases.routing.dispatch import next_shift_start
from cases.routing.models import PlaceRequest, Presence, Requirement, RoutingChange, RoutingStatus
from starter.start_input import start_options
from tests.support.factories import intake
from tests.support.lifecycle_helpers import Cases, advance_to, audit_trail, now, running_cases
from tests.support.routing_helpers import TeamRoster, team_roster
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseInput

SECOND = timedelta(seconds=1)
ZH = "耳机左边没有声音"
EN = "The left earbud makes no sound."


def routing_of(state: CaseState) -> Any:
    return state.routing


async def assigned(cases: Cases, case_id: str, handler: str) -> CaseState:
    return await cases.wait(case_id, lambda s: s.handler == handler, f"assigned to {handler}")


async def queued(cases: Cases, case_id: str) -> CaseState:
    return await cases.wait(
        case_id, lambda s: s.routing.status == RoutingStatus.QUEUED, "queued"
    )


async def kinds(pool: Any, case_id: str) -> list[str]:
    return [r["type"] for r in await audit_trail(pool, case_id) if r["type"] != "notification_queued"]


async def test_assignment_by_skill_and_spare_capacity(env, pool, policy) -> None:
    roster = await team_roster(pool, policy)
    t0 = await now(env)
    english = await roster.agent("en", t0, capacity=2, skills=["lang:en"])
    small = await roster.agent("zh-a", t0, capacity=1, skills=["lang:zh"])
    large = await roster.agent("zh-b", t0, capacity=3, skills=["lang:zh"])
    async with running_cases(env, pool, roster.policy) as cases:
        # The Chinese description goes to the Chinese speakers, the most spare seats first...
        first, _ = await cases.open(intake(description=ZH))
        state = await assigned(cases, first.case_id, large)
        second, _ = await cases.open(intake(description=ZH))
        await assigned(cases, second.case_id, large)
        # ...and on a tie (one spare seat each) to the one idle longest: never assigned yet.
        third, _ = await cases.open(intake(description=ZH))
        await assigned(cases, third.case_id, small)
        fourth, _ = await cases.open(intake(description=EN))
        await assigned(cases, fourth.case_id, english)

        r = routing_of(state)
        assert r.status == RoutingStatus.ASSIGNED and r.team == roster.team
        assert state.opened_at <= r.first_assigned_at < state.opened_at + SECOND
        assert r.queue_seconds == 0
        window = roster.policy.snapshot(state.opened_at).intake.acceptance_window[state.tier]
        assert r.accept_by == r.first_assigned_at + timedelta(seconds=window.seconds)
        assert (await kinds(pool, first.case_id))[:3] == ["opened", "clock_started", "clock_started"]
        assert "assigned" in await kinds(pool, first.case_id)
        assert [await roster.load(a) for a in (english, small, large)] == [1, 1, 2]
        assert await roster.over_capacity() == []


async def test_a_full_team_queue_is_drained_in_order_as_seats_free(env, pool, policy) -> None:
    roster = await team_roster(pool, policy)
    agent = await roster.agent("solo", await now(env), capacity=1)
    async with running_cases(env, pool, roster.policy) as cases:
        holder, _ = await cases.open(intake(description=EN))
        await assigned(cases, holder.case_id, agent)
        general, _ = await cases.open(intake(description="Wrong colour, please exchange."))
        await queued(cases, general.case_id)
        # Opened later, but urgent from its own words: served first.
        urgent, _ = await cases.open(intake(description="The power bank started to smoke."))
        waiting = await queued(cases, urgent.case_id)
        assert waiting.tier.value == "urgent" and waiting.intake.flags.safety_risk
        assert waiting.handler is None and routing_of(waiting).team == roster.team

        await cases.act(holder.case_id, "withdraw", {"reason": "solved"})
        served = await assigned(cases, urgent.case_id, agent)
        still = await cases.state(general.case_id)
        assert still.handler is None and routing_of(still).status == RoutingStatus.QUEUED

        await cases.act(urgent.case_id, "withdraw", {"reason": "solved"})
        last = await assigned(cases, general.case_id, agent)
        for state in (served, last):
            r = routing_of(state)
            assert r.first_assigned_at is not None and r.queue_seconds > 0
            queued_for = (r.first_assigned_at - state.opened_at).total_seconds()
            assert queued_for - 1 < r.queue_seconds <= queued_for
        assert await roster.load(agent) == 1
        assert await roster.over_capacity() == []
        assert "queued" in await kinds(pool, general.case_id)


async def _evening(env: Any, roster: TeamRoster) -> datetime:
    """Move the server's clock to 21:00 local on a working day, after the team's shift."""
    calendar = roster.roster.calendar(await now(env))
    current = (await now(env)).astimezone(calendar.zone)
    day = current.date() + timedelta(days=1)
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    evening = datetime(day.year, day.month, day.day, 21, 0, tzinfo=calendar.zone)
    await advance_to(env, evening)
    return evening


async def test_a_shift_starting_at_nine_picks_up_the_nights_queue(env, pool, policy) -> None:
    roster = await team_roster(pool, policy, hours="09:00-18:00")
    async with running_cases(env, pool, roster.policy) as cases:
        evening = await _evening(env, roster)
        agent = await roster.agent("day", evening, capacity=5)
        night = []
        for _ in range(3):
            opened, _ = await cases.open(intake(description=EN))
            night.append(await queued(cases, opened.case_id))
        calendar = roster.roster.calendar(evening)
        start = next_shift_start("09:00-18:00", calendar, evening)
        assert start is not None and start.astimezone(calendar.zone).hour == 9
        for state in night:
            assert routing_of(state).recheck_at == start

        await advance_to(env, start - SECOND)
        for state in night:
            assert (await cases.state(state.case_id)).handler is None
        await advance_to(env, start + SECOND)
        for state in night:
            done = await assigned(cases, state.case_id, agent)
            r = routing_of(done)
            assert start <= r.first_assigned_at < start + SECOND
        assert await roster.load(agent) == 3


async def test_an_agent_who_does_not_accept_is_passed_over_at_the_exact_instant(env, pool, policy) -> None:
    roster = await team_roster(pool, policy)
    t0 = await now(env)
    first = await roster.agent("a", t0, capacity=1)
    second = await roster.agent("b", t0, capacity=1)
    async with running_cases(env, pool, roster.policy) as cases:
        opened, _ = await cases.open(intake(description=EN))
        state = await assigned(cases, opened.case_id, first)
        deadline = routing_of(state).accept_by
        assert deadline == routing_of(state).assigned_at + timedelta(hours=2)

        await advance_to(env, deadline - SECOND)
        assert (await cases.state(opened.case_id)).handler == first
        await advance_to(env, deadline + SECOND)
        moved = await assigned(cases, opened.case_id, second)
        trail = await audit_trail(pool, opened.case_id)
        bypass = next(r for r in trail if r["type"] == "assignment_bypassed")
        data = json.loads(bypass["data"]) if isinstance(bypass["data"], str) else dict(bypass["data"])
        assert (data["handler"], data["accept_by"]) == (first, deadline.isoformat())
        assert deadline <= bypass["at"] < deadline + SECOND and bypass["actor"] == "router"
        notices = [r for r in trail if r["type"] == "notification_queued" and "assignment_bypassed" in r["data"]]
        assert len(notices) == 1 and f"lead-{roster.team}" in notices[0]["data"]
        r = routing_of(moved)
        assert r.excluded == [first] and r.bypasses == 1
        assert r.accept_by == r.assigned_at + timedelta(hours=2)
        assert (await roster.load(first), await roster.load(second)) == (0, 1)

        # Acknowledging in time ends the window: nobody is passed over again.
        await cases.act(opened.case_id, "acknowledge", {"actor": second})
        await advance_to(env, r.accept_by + SECOND)
        kept = await cases.state(opened.case_id)
        assert kept.handler == second and routing_of(kept).bypasses == 1


async def test_load_is_released_on_close_withdraw_and_reassign(env, pool, policy) -> None:
    roster = await team_roster(pool, policy)
    t0 = await now(env)
    agent = await roster.agent("x", t0, capacity=3)
    other = await roster.agent("y", t0, capacity=0)  # takes nothing automatically
    async with running_cases(env, pool, roster.policy) as cases:
        withdrawn, _ = await cases.open(intake(description=EN))
        reassigned, _ = await cases.open(intake(description=EN))
        closed, _ = await cases.open(intake(description=EN, case_id="r" + withdrawn.case_id[1:]))
        for opened in (withdrawn, reassigned, closed):
            await assigned(cases, opened.case_id, agent)
        assert await roster.load(agent) == 3

        await cases.act(withdrawn.case_id, "withdraw", {"reason": "changed mind"})
        await cases.wait(withdrawn.case_id, lambda s: routing_of(s).status == RoutingStatus.RELEASED, "released")
        assert await roster.load(agent) == 2

        # A supervisor's assignment counts against the new holder, even over capacity.
        await cases.act(reassigned.case_id, "assign", {"actor": "sup-1", "handler": other})
        await cases.wait(reassigned.case_id, lambda s: routing_of(s).seq >= 2, "taken")
        assert (await roster.load(agent), await roster.load(other)) == (1, 1)
        row = await roster.row(reassigned.case_id)
        assert row["agent_id"] == other and row["manual"]

        await cases.act(closed.case_id, "acknowledge", {"actor": agent})
        await cases.act(closed.case_id, "propose_resolution", {"actor": agent, "type": "explanation"})
        await cases.wait_status(closed.case_id, Status.AWAITING_CONFIRMATION)
        await cases.act(closed.case_id, "confirm")
        done = await cases.act(closed.case_id, "rate", {"score": 5})
        if done.status == Status.FOLLOW_UP:
            done = await cases.act(
                closed.case_id, "follow_up_result", {"actor": "caller", "outcome": "satisfied", "note": "ok"}
            )
        assert done.status == Status.CLOSED
        final = await cases.result(closed.case_id)
        assert routing_of(final).status == RoutingStatus.RELEASED
        assert await roster.load(agent) == 0
        assert (await kinds(pool, closed.case_id))[-1] == "load_released"


async def test_a_notice_that_arrives_with_the_start_waits_for_the_case(env, pool, policy) -> None:
    """A retried first task delivers a signal in the same activation as the start; signal-with-
    start does the same on purpose. The notice must be applied once the case exists."""
    async with running_cases(env, pool, policy) as cases:
        case = intake(description=EN)
        notice = RoutingChange(
            case_id=str(case.case_id), workflow_id=f"case-{case.case_id}", seq=5,
            status=RoutingStatus.ASSIGNED, team="elsewhere", agent="agent-early", at=await now(env),
        )
        options = start_options(case, cases.client.task_queue)
        await env.client.start_workflow(
            AfterSalesCase.run, CaseInput.model_validate(case.model_dump() | {"resume": None}),
            start_signal="routed", start_signal_args=[notice], **options,
        )
        cases.opened.append(str(case.case_id))
        state = await assigned(cases, str(case.case_id), "agent-early")
        assert routing_of(state).seq == 5 and state.team == "elsewhere"
        assert "assigned" in await kinds(pool, str(case.case_id))


async def test_a_reclassified_case_moves_to_the_team_its_rules_now_name(env, pool, policy) -> None:
    general_desk = await team_roster(pool, policy)
    major_desk = await team_roster(pool, policy)
    rules = [RoutingRule(team=major_desk.team, flags=["major_complaint"])]
    routed = general_desk.policy.model_copy(
        update={"routing": RoutingSettings(default_team=general_desk.team, rules=rules)}
    )
    t0 = await now(env)
    first = await general_desk.agent("g", t0, capacity=2)
    second = await major_desk.agent("m", t0, capacity=2)
    async with running_cases(env, pool, routed) as cases:
        opened, _ = await cases.open(intake(description=EN))
        await assigned(cases, opened.case_id, first)
        flags = {"major_complaint": True}
        await cases.act(opened.case_id, "reclassify", {"actor": "sup", "flags": flags, "reason": "press"})
        moved = await assigned(cases, opened.case_id, second)
        assert moved.team == major_desk.team and routing_of(moved).team == major_desk.team
        assert (await general_desk.load(first), await major_desk.load(second)) == (0, 1)
        assert (await major_desk.row(opened.case_id))["team"] == major_desk.team


async def test_the_same_request_gets_the_same_answer_however_the_roster_moved(pool, policy) -> None:
    """A workflow task that timed out after the roster committed is run again: it must decide as
    the first attempt did, or its audit events (same sequence numbers) would disagree with the
    record that attempt already wrote."""
    roster = await team_roster(pool, policy)
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    request = PlaceRequest(
        case_id=f"k{roster.team}", workflow_id=f"case-k{roster.team}", team=roster.team,
        requirement=Requirement(category="logistics", tier="general", language="en"),
        priority=3, at=at, key=f"k{roster.team}:1",
    )
    first = await roster.roster.place(request)
    assert first.change.status == RoutingStatus.QUEUED and first.change.seq == 1
    drained = await roster.roster.add_agent(f"late-{roster.team}", roster.team, [], 1, Presence.AVAILABLE, at)
    assert [c.status for c in drained] == [RoutingStatus.ASSIGNED]
    again = await roster.roster.place(request)
    assert again == first  # the kept answer, not today's
    asked_anew = await roster.roster.place(request.model_copy(update={"key": f"k{roster.team}:2"}))
    assert (asked_anew.change.status, asked_anew.change.seq) == (RoutingStatus.ASSIGNED, 2)
