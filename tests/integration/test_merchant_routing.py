"""Routing never crosses merchants: a merchant's team takes that merchant's cases only, its agents
are never given another merchant's case, and a platform team serves every merchant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from activities.merchants import MerchantRegistry
from activities.roster.postgres import PostgresRoster
from cases.ids import case_key, workflow_id_for
from cases.routing.models import PlaceRequest, Presence, Requirement, RoutingStatus, TakeRequest

REQUIREMENT = Requirement(category="logistics", tier="general", language="en", vip=False)


async def _setup(pool: Any, policy: Any) -> tuple[PostgresRoster, dict[str, str], dict[str, str]]:
    """Merchants a and b, each with a team and an agent, and a platform team with an agent."""
    run = uuid.uuid4().hex[:6]
    roster = PostgresRoster(pool, policy.calendar)
    now = datetime.now(UTC)
    teams, agents = {}, {}
    for who in ("a", "b", "platform"):
        merchant = None if who == "platform" else f"{who}-{run}"
        if merchant is not None:
            await MerchantRegistry(pool).add(merchant, merchant)
        teams[who], agents[who] = f"team-{who}-{run}", f"agent-{who}-{run}"
        await roster.add_team(teams[who], [], None, None, merchant)
        await roster.add_agent(agents[who], teams[who], [], 5, Presence.AVAILABLE, now)
    return roster, teams, agents


def _place(key: str, team: str) -> PlaceRequest:
    return PlaceRequest(case_id=key, workflow_id=workflow_id_for(key), team=team, requirement=REQUIREMENT,
                        priority=3, at=datetime.now(UTC))


def _take(key: str, agent: str) -> TakeRequest:
    return TakeRequest(case_id=key, workflow_id=workflow_id_for(key), agent=agent, requirement=REQUIREMENT,
                       priority=3, at=datetime.now(UTC))


async def test_a_merchants_team_takes_only_its_own_merchants_cases(pool: Any, policy: Any) -> None:
    roster, teams, agents = await _setup(pool, policy)
    merchant_a = teams["a"].removeprefix("team-")
    own = case_key(f"c{uuid.uuid4().hex[:8]}", merchant_a)
    placed = await roster.place(_place(own, teams["a"]))
    assert (placed.change.status, placed.change.agent) == (RoutingStatus.ASSIGNED, agents["a"])

    other = case_key(f"c{uuid.uuid4().hex[:8]}", merchant_a)
    refused = await roster.place(_place(other, teams["b"]))
    assert refused.change.status == RoutingStatus.UNROUTED
    assert await pool.fetchval("SELECT count(*) FROM case_routing WHERE case_id = $1", other) == 0


async def test_another_merchants_agent_is_never_given_the_case(pool: Any, policy: Any) -> None:
    roster, teams, agents = await _setup(pool, policy)
    key = case_key(f"c{uuid.uuid4().hex[:8]}", teams["a"].removeprefix("team-"))
    taken = await roster.take(_take(key, agents["b"]))
    assert taken.change.status == RoutingStatus.UNROUTED and taken.change.agent is None
    assert await pool.fetchval("SELECT count(*) FROM routing_log WHERE case_id = $1", key) == 0


async def test_a_platform_team_serves_every_merchant(pool: Any, policy: Any) -> None:
    roster, teams, agents = await _setup(pool, policy)
    for merchant in (teams["a"].removeprefix("team-"), teams["b"].removeprefix("team-"), "default"):
        key = case_key(f"c{uuid.uuid4().hex[:8]}", merchant)
        placed = await roster.place(_place(key, teams["platform"]))
        assert (placed.change.status, placed.change.agent) == (RoutingStatus.ASSIGNED, agents["platform"])
        taken = await roster.take(_take(case_key(f"d{uuid.uuid4().hex[:8]}", merchant), agents["platform"]))
        assert taken.change.agent == agents["platform"]
