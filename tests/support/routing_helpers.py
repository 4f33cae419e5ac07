"""A roster of one's own for a routing test: a fresh team, its agents, and a policy routing to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from activities.roster.postgres import PostgresRoster
from cases.policy.intake import RoutingSettings
from cases.policy.snapshot import Policy
from cases.routing.models import Presence


@dataclass
class TeamRoster:
    pool: asyncpg.Pool
    roster: PostgresRoster
    team: str
    policy: Policy

    async def agent(self, name: str, at: datetime, *, capacity: int = 5, skills: list[str] | None = None) -> str:
        agent_id = f"{name}-{self.team}"
        await self.roster.add_agent(agent_id, self.team, skills or [], capacity, Presence.AVAILABLE, at)
        return agent_id

    async def load(self, agent_id: str) -> int:
        value = await self.pool.fetchval(
            "SELECT count(*) FROM case_routing WHERE agent_id = $1 AND status = 'assigned'", agent_id
        )
        return int(value)

    async def row(self, case_id: str) -> Any:
        return await self.pool.fetchrow("SELECT * FROM case_routing WHERE case_id = $1", case_id)

    async def over_capacity(self) -> list[Any]:
        """Automatic assignments that left an agent holding more than their capacity."""
        return list(
            await self.pool.fetch(
                "SELECT * FROM routing_log WHERE team = $1 AND NOT manual AND load_after > capacity",
                self.team,
            )
        )


async def team_roster(
    pool: asyncpg.Pool, policy: Policy, *, hours: str | None = None, skills: list[str] | None = None
) -> TeamRoster:
    team = f"t{uuid.uuid4().hex[:10]}"
    roster = PostgresRoster(pool, policy.calendar)
    await roster.add_team(team, skills or [], hours, f"lead-{team}")
    routed = policy.model_copy(
        update={"routing": RoutingSettings(default_team=team, rules=[])}
    )
    return TeamRoster(pool, roster, team, routed)
