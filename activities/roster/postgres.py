"""The roster in PostgreSQL: placing, taking and releasing cases, and the roster commands.

Every change locks the rows of the teams it touches (in name order, so two changes never wait on
each other in a circle), then the case's row, then decides with `cases.routing.dispatch` and writes the
answer in the same transaction. So any number of workers can route at once and the last free
seat goes to one case only; a second call for the same request finds its own answer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from activities.roster import queries as q
from cases.clocks.calendar import BusinessCalendar, CalendarSettings
from cases.ids import split_case_key
from cases.routing import dispatch
from cases.routing.models import (
    PlaceRequest,
    Presence,
    ReleaseRequest,
    Requirement,
    RoutingChange,
    RoutingResult,
    RoutingStatus,
    TakeRequest,
)

HOLDING = ("queued", "assigned")
QUEUE_RECHECK = timedelta(hours=1)


class RosterError(ValueError):
    """A roster command that cannot be carried out (an unknown team or agent)."""


def change_of(row: Any, lead: str | None, at: datetime, agent: str | None = None) -> RoutingChange:
    return RoutingChange(
        case_id=row["case_id"],
        workflow_id=row["workflow_id"],
        seq=row["seq"],
        status=RoutingStatus(row["status"]),
        team=row["team"],
        agent=row["agent_id"] or agent,
        lead=lead,
        at=at,
    )


def serves(team: Any, case_id: str) -> bool:
    """Whether the team may hold the case: a platform team any, a merchant's team its own only."""
    return team["merchant_id"] is None or team["merchant_id"] == split_case_key(case_id)[0]


def _unrouted(case_id: str, workflow_id: str, at: datetime) -> RoutingChange:
    return RoutingChange(case_id=case_id, workflow_id=workflow_id, seq=0, status=RoutingStatus.UNROUTED, at=at)


class PostgresRoster:
    def __init__(self, pool: asyncpg.Pool, calendar: CalendarSettings) -> None:
        self._pool = pool
        self._settings = calendar
        self._calendars: dict[int, BusinessCalendar] = {}

    def calendar(self, at: datetime) -> BusinessCalendar:
        year = at.year
        if year not in self._calendars:
            self._calendars[year] = self._settings.resolve(range(year - 1, year + 2))
        return self._calendars[year]

    # -- the activities' side ------------------------------------------------------------------

    async def place(self, request: PlaceRequest) -> RoutingResult:
        return await self._answer(request.key, lambda conn: self._place(conn, request))

    async def _place(self, conn: asyncpg.Connection, request: PlaceRequest) -> RoutingResult:
        at = request.at
        # Only the case's own workflow moves it between teams, so its team read here is the
        # one still locked below.
        current = await conn.fetchrow(q.ROW, request.case_id)
        names = sorted({request.team} | ({current["team"]} if current else set()))
        locked = {t["name"]: t for t in await conn.fetch(q.LOCK_TEAMS, names)}
        if request.team not in locked:
            return RoutingResult(change=_unrouted(request.case_id, request.workflow_id, at))
        team = locked[request.team]
        if not serves(team, request.case_id):
            return RoutingResult(change=_unrouted(request.case_id, request.workflow_id, at))
        row = await conn.fetchrow(q.ROW_FOR_UPDATE, request.case_id)
        drained: list[RoutingChange] = []
        if row is None:
            row = await conn.fetchrow(
                q.ENQUEUE, request.case_id, request.workflow_id, team["name"],
                request.requirement.model_dump_json(), request.priority, request.excluded, at,
            )
        elif row["team"] != team["name"] and row["status"] in HOLDING:
            freed = locked.get(row["team"]) if row["status"] == "assigned" else None
            row = await conn.fetchrow(q.MOVE, request.case_id, team["name"], at)
            if freed is not None:
                drained = await self._drain(conn, freed, at)
        elif row["status"] == "assigned" and row["agent_id"] in request.excluded:
            row = await conn.fetchrow(q.REQUEUE, request.case_id, request.excluded, at)
        elif row["status"] == "queued" and set(request.excluded) - set(row["excluded"]):
            row = await conn.fetchrow(q.SET_EXCLUDED, request.case_id, request.excluded)
        drained += await self._drain(conn, team, at)
        own = await conn.fetchrow(q.ROW, request.case_id)
        return self._result(own, team, drained, at)

    async def take(self, request: TakeRequest) -> RoutingResult:
        return await self._answer(request.key, lambda conn: self._take(conn, request))

    async def _take(self, conn: asyncpg.Connection, request: TakeRequest) -> RoutingResult:
        at = request.at
        agent = await conn.fetchrow(q.AGENT, request.agent)
        row = await conn.fetchrow(q.ROW, request.case_id)
        names = {r for r in (agent["team"] if agent else None, row["team"] if row else None) if r}
        locked = {t["name"]: t for t in await conn.fetch(q.LOCK_TEAMS, sorted(names))}
        row = await conn.fetchrow(q.ROW_FOR_UPDATE, request.case_id)
        if agent is not None and not serves(locked[agent["team"]], request.case_id):
            agent = None  # another merchant's agent is no one this case can be given to
        if agent is None:
            if row is None or row["status"] not in HOLDING:
                return RoutingResult(change=_unrouted(request.case_id, request.workflow_id, at))
            previous = row["agent_id"]
            row = await conn.fetchrow(q.RELEASE, request.case_id, at)
            team = locked[row["team"]]
            drained = await self._drain(conn, team, at)
            return RoutingResult(change=change_of(row, team["lead"], at, previous), drained=drained)
        team = locked[agent["team"]]
        if row is not None and row["status"] == "assigned" and row["agent_id"] == request.agent:
            return RoutingResult(change=change_of(row, team["lead"], at))
        freed = row["team"] if row is not None and row["status"] == "assigned" else None
        if row is None:
            row = await conn.fetchrow(
                q.INSERT_ASSIGNED, request.case_id, request.workflow_id, team["name"],
                request.agent, request.requirement.model_dump_json(), request.priority, at,
            )
        else:
            row = await conn.fetchrow(q.ASSIGN, request.case_id, request.agent, team["name"], True, at)
        load = await conn.fetchval(q.LOAD, request.agent)
        await conn.execute(q.TOUCH_AGENT, request.agent, at)
        await conn.execute(q.LOG, request.case_id, team["name"], request.agent, load, agent["capacity"], True, at)
        drained = await self._drain(conn, locked[freed], at) if freed in locked else []
        return RoutingResult(change=change_of(row, team["lead"], at), drained=drained)

    async def release(self, request: ReleaseRequest) -> RoutingResult:
        return await self._answer(request.key, lambda conn: self._release(conn, request))

    async def _release(self, conn: asyncpg.Connection, request: ReleaseRequest) -> RoutingResult:
        at = request.at
        row = await conn.fetchrow(q.ROW, request.case_id)
        if row is None:
            return RoutingResult(change=_unrouted(request.case_id, "", at))
        team = (await conn.fetch(q.LOCK_TEAMS, [row["team"]]))[0]
        row = await conn.fetchrow(q.ROW_FOR_UPDATE, request.case_id)
        if row["status"] not in HOLDING:
            return RoutingResult(change=change_of(row, team["lead"], at))
        previous = row["agent_id"]
        row = await conn.fetchrow(q.RELEASE, request.case_id, at)
        drained = await self._drain(conn, team, at)
        return RoutingResult(change=change_of(row, team["lead"], at, previous), drained=drained)

    async def _answer(
        self, key: str, decide: Callable[[asyncpg.Connection], Awaitable[RoutingResult]]
    ) -> RoutingResult:
        """The answer kept for `key`, or a new one, kept in the same transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            if key:
                # Two attempts of one request (a task retried while the first still runs) take
                # turns, and the second finds the first one's answer.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)
                kept = await conn.fetchval(q.ANSWER, key)
                if kept is not None:
                    return RoutingResult.model_validate_json(kept)
            result = await decide(conn)
            if key:
                await conn.execute(q.KEEP_ANSWER, key, result.model_dump_json())
            return result

    # -- the roster commands' side -------------------------------------------------------------

    async def add_team(
        self, name: str, skills: Sequence[str], hours: str | None, lead: str | None, merchant_id: str | None = None
    ) -> None:
        """A team of `merchant_id`, or a platform team (which serves every merchant) without one."""
        for skill in skills:
            dispatch.check_skill(skill)
        if hours is not None:
            dispatch.parse_hours(hours)
        async with self._pool.acquire() as conn:
            try:
                await conn.execute(q.UPSERT_TEAM, name, list(skills), hours, lead, merchant_id)
            except asyncpg.ForeignKeyViolationError:
                raise RosterError(f"merchant {merchant_id!r} is not registered") from None

    async def add_agent(
        self, agent_id: str, team: str, skills: Sequence[str], capacity: int, presence: Presence, at: datetime
    ) -> list[RoutingChange]:
        for skill in skills:
            dispatch.check_skill(skill)
        if capacity < 0:
            raise RosterError(f"capacity {capacity} must be 0 or more")
        async with self._pool.acquire() as conn, conn.transaction():
            # An agent moving between teams is locked in both, so neither counts a stale load.
            before = await conn.fetchrow(q.AGENT, agent_id)
            names = sorted({team, before["team"]} if before else {team})
            locked = {t["name"]: t for t in await conn.fetch(q.LOCK_TEAMS, names)}
            if team not in locked:
                raise RosterError(f"team {team!r} does not exist; add it with `aftersales roster team add`")
            await conn.execute(q.UPSERT_AGENT, agent_id, team, list(skills), capacity, presence.value)
            return await self._drain(conn, locked[team], at)

    async def set_agent(
        self, agent_id: str, at: datetime, *, presence: Presence | None = None, capacity: int | None = None
    ) -> list[RoutingChange]:
        if capacity is not None and capacity < 0:
            raise RosterError(f"capacity {capacity} must be 0 or more")
        async with self._pool.acquire() as conn, conn.transaction():
            agent = await conn.fetchrow(q.AGENT, agent_id)
            if agent is None:
                raise RosterError(f"agent {agent_id!r} does not exist")
            team = (await conn.fetch(q.LOCK_TEAMS, [agent["team"]]))[0]
            moved = await conn.fetchrow(q.AGENT, agent_id)
            if moved is None or moved["team"] != agent["team"]:
                raise RosterError(f"agent {agent_id!r} changed team meanwhile; try again")
            if presence is not None:
                await conn.execute(q.SET_PRESENCE, agent_id, presence.value)
            if capacity is not None:
                await conn.execute(q.SET_CAPACITY, agent_id, capacity)
            return await self._drain(conn, team, at)

    async def drain(self, team: str | None, at: datetime) -> list[RoutingChange]:
        """Assign what can be assigned now, and every assignment a case has not heard of yet."""
        changes: dict[str, RoutingChange] = {}
        async with self._pool.acquire() as conn:
            names = [team] if team else [r["name"] for r in await conn.fetch(q.TEAMS)]
            for name in names:
                async with conn.transaction():
                    locked = await conn.fetch(q.LOCK_TEAMS, [name])
                    if not locked:
                        raise RosterError(f"team {name!r} does not exist")
                    for change in await self._drain(conn, locked[0], at):
                        changes[change.case_id] = change
            leads = {r["name"]: r["lead"] for r in await conn.fetch(q.TEAMS)}
            for row in await conn.fetch(q.UNHEARD, team):
                changes.setdefault(row["case_id"], change_of(row, leads.get(row["team"]), at))
        return list(changes.values())

    async def listing(self) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            # A platform team lists as teams always have; a merchant's names its merchant.
            teams = [{k: v for k, v in r.items() if k != "merchant_id" or v is not None}
                     for r in await conn.fetch(q.TEAMS)]
            agents = [dict(r) for r in await conn.fetch(q.AGENTS)]
        return {"teams": teams, "agents": agents}

    # -- shared --------------------------------------------------------------------------------

    async def _drain(self, conn: asyncpg.Connection, team: Any, at: datetime) -> list[RoutingChange]:
        """Serve the team's queue from its free seats; the caller holds the team's lock."""
        if not dispatch.on_shift(team["hours"], self.calendar(at), at):
            return []
        seats = [
            dispatch.Seat(
                agent_id=r["agent_id"], skills=list(r["skills"]), capacity=r["capacity"], load=r["load"],
                presence=Presence(r["presence"]), last_assigned_at=r["last_assigned_at"],
            )
            for r in await conn.fetch(q.SEATS, team["name"])
        ]
        if not any(s.presence == Presence.AVAILABLE and s.load < s.capacity for s in seats):
            return []
        queue = [
            dispatch.Waiting(
                case_id=r["case_id"], requirement=Requirement.model_validate(json.loads(r["requirement"])),
                priority=r["priority"], queued_at=r["queued_at"], excluded=list(r["excluded"]),
            )
            for r in await conn.fetch(q.QUEUE, team["name"])
        ]
        changes = []
        for waiting, seat in dispatch.drain(queue, seats, list(team["skills"]), at):
            row = await conn.fetchrow(q.ASSIGN, waiting.case_id, seat.agent_id, team["name"], False, at)
            await conn.execute(q.TOUCH_AGENT, seat.agent_id, at)
            await conn.execute(
                q.LOG, waiting.case_id, team["name"], seat.agent_id, seat.load, seat.capacity, False, at
            )
            changes.append(change_of(row, team["lead"], at))
        return changes

    def _next_check(self, hours: str | None, at: datetime) -> datetime:
        """When a queued case asks again. Off shift: when the shift starts. On shift: within the
        hour (or at the next shift start, if sooner), so a notice lost after the roster committed
        (a crash between the commit and the task's completion) costs an hour, never the case."""
        calendar = self.calendar(at)
        start = dispatch.next_shift_start(hours, calendar, at)
        if start is not None and not dispatch.on_shift(hours, calendar, at):
            return start
        soon = at + QUEUE_RECHECK
        return min(soon, start) if start is not None else soon

    def _result(self, own: Any, team: Any, drained: list[RoutingChange], at: datetime) -> RoutingResult:
        change = change_of(own, team["lead"], at)
        if change.status == RoutingStatus.QUEUED:
            change.next_check_at = self._next_check(team["hours"], at)
        return RoutingResult(change=change, drained=[d for d in drained if d.case_id != own["case_id"]])
