"""`aftersales roster`: the teams and agents cases are routed to, kept in PostgreSQL.

Every argument and every imported row is checked before the database is written, with one rule
per field, so a typo is refused with a line naming it instead of leaving a half-changed roster.
A change that frees seats (an agent added, present again, or given more capacity) assigns
queued cases at once; each of those cases is told with the `routed` signal, and the command
prints how many were assigned, how many heard, and the workflows that could not be told (a
finished case, or Temporal away: `roster drain` tells them again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

from temporalio.service import RPCError

from activities.merchants import MerchantError, check_merchant_id
from activities.roster.postgres import PostgresRoster, RosterError
from cases.policy.snapshot import load_policy
from cases.routing.models import Presence, RoutingChange, RoutingStatus
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings
from starter.cli.common import case_client, database_pool, print_json, read_source
from starter.cli.roster_input import (
    DEFAULT_CAPACITY,
    agent_id,
    capacity,
    hours,
    lead,
    parse_roster_csv,
    presence,
    skills,
    split_skills,
    team_name,
)
from workflows.routing_steps import ROUTED_SIGNAL

# Enough notices in flight to drain a large queue quickly without flooding the frontend.
SIGNAL_CONCURRENCY = 16

# -- the parsers ----------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    roster = sub.add_parser("roster", help="the teams and agents cases are routed to (PostgreSQL)")
    commands = roster.add_subparsers(dest="roster_command", required=True, metavar="COMMAND")

    team = commands.add_parser("team", help="define teams").add_subparsers(
        dest="team_command", required=True, metavar="COMMAND"
    )
    p = team.add_parser("add", help="add a team, or replace its skills, hours and lead")
    p.add_argument("name")
    p.add_argument("--skills", help="comma-separated: vip, category:<name>, tier:<name>, lang:<code>")
    p.add_argument("--hours", help="working hours on the policy calendar's working days, e.g. 09:00-18:00 "
                   "(default: around the clock)")
    p.add_argument("--lead", metavar="AGENT_OR_PERSON", help="who hears about the team's cases")
    p.add_argument("--merchant", help="the merchant whose cases the team takes; without it, a platform team "
                   "that takes every merchant's")

    agent = commands.add_parser("agent", help="define agents").add_subparsers(
        dest="agent_command", required=True, metavar="COMMAND"
    )
    p = agent.add_parser("add", help="add an agent, or replace their team, skills, capacity and presence")
    p.add_argument("agent_id", metavar="AGENT_ID")
    p.add_argument("--team", required=True)
    p.add_argument("--skills", help="comma-separated, e.g. category:logistics,lang:zh,vip "
                   "(default: the team's)")
    p.add_argument("--capacity", default=str(DEFAULT_CAPACITY), help="cases held at once (default 5)")
    p.add_argument("--presence", default=Presence.AVAILABLE.value, help="available, away or offline")

    p = commands.add_parser("presence", help="set an agent's presence")
    p.add_argument("agent_id", metavar="AGENT_ID")
    p.add_argument("presence", metavar="available|away|offline")

    p = commands.add_parser("capacity", help="set how many cases an agent holds at once")
    p.add_argument("agent_id", metavar="AGENT_ID")
    p.add_argument("capacity", metavar="N")

    commands.add_parser("list", help="print the teams and agents, with queues and loads, as JSON")

    p = commands.add_parser("import", help="add teams and agents from a CSV file, or - for stdin")
    p.add_argument("file", metavar="FILE.csv|-")

    p = commands.add_parser("drain", help="assign what can be assigned and tell cases that missed a notice")
    p.add_argument("--team")


# -- the commands ---------------------------------------------------------------------------------


async def cmd_roster(args: argparse.Namespace, settings: Settings) -> None:
    at = datetime.now(UTC)
    command = args.roster_command
    if command == "team":
        await _team_add(args, settings)
    elif command == "agent":
        await _agent_add(args, settings, at)
    elif command == "presence":
        agent = agent_id(args.agent_id, "agent id")
        state = presence(args.presence, "presence")
        async with _roster(settings) as roster:
            changes = await roster.set_agent(agent, at, presence=state)
        await _announce(settings, changes)
    elif command == "capacity":
        agent = agent_id(args.agent_id, "agent id")
        seats = capacity(args.capacity, "capacity")
        async with _roster(settings) as roster:
            changes = await roster.set_agent(agent, at, capacity=seats)
        await _announce(settings, changes)
    elif command == "list":
        async with _roster(settings) as roster:
            listing = await roster.listing()
        print_json(_plain(listing))
    elif command == "import":
        await _import(args.file, settings, at)
    elif command == "drain":
        team = team_name(args.team, "--team") if args.team is not None else None
        async with _roster(settings) as roster:
            changes = await roster.drain(team, at)
        await _announce(settings, changes)
    else:  # pragma: no cover - argparse allows only the commands above
        raise UserError(f"unknown roster command {command!r}")


async def _team_add(args: argparse.Namespace, settings: Settings) -> None:
    name = team_name(args.name, "team name")
    wanted = skills(split_skills(args.skills, ","), "--skills")
    shift = hours(args.hours, "--hours")
    head = lead(args.lead, "--lead")
    merchant = args.merchant
    if merchant is not None:
        try:
            check_merchant_id(merchant)
        except MerchantError as err:
            raise UserError(f"--merchant: {err}") from None
    async with _roster(settings) as roster:
        await roster.add_team(name, wanted, shift, head, merchant)
    team = {"name": name, "skills": wanted, "hours": shift, "lead": head}
    print_json({"team": team | ({"merchant_id": merchant} if merchant else {})})


async def _agent_add(args: argparse.Namespace, settings: Settings, at: datetime) -> None:
    agent = agent_id(args.agent_id, "agent id")
    team = team_name(args.team, "--team")
    wanted = skills(split_skills(args.skills, ","), "--skills")
    seats = capacity(args.capacity, "--capacity")
    state = presence(args.presence, "--presence")
    async with _roster(settings) as roster:
        changes = await roster.add_agent(agent, team, wanted, seats, state, at)
    added = {"agent_id": agent, "team": team, "skills": wanted, "capacity": seats, "presence": state.value}
    await _announce(settings, changes, agent=added)


# -- import ---------------------------------------------------------------------------------------


async def _import(source: str, settings: Settings, at: datetime) -> None:
    label = "stdin" if source == "-" else source
    text = read_source(source)
    changes: dict[str, RoutingChange] = {}
    async with _roster(settings) as roster:
        known = {t["name"] for t in (await roster.listing())["teams"]}
        teams, agents = parse_roster_csv(text, label, known)
        for team in teams:
            await roster.add_team(team.name, team.skills, team.hours, team.lead)
        for agent in agents:
            for change in await roster.add_agent(
                agent.agent_id, agent.team, agent.skills, agent.capacity, agent.presence, at
            ):
                changes[change.case_id] = change
    await _announce(settings, list(changes.values()), teams=len(teams), agents=len(agents))


# -- PostgreSQL and Temporal ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _roster(settings: Settings) -> AsyncIterator[PostgresRoster]:
    calendar = load_policy(settings.policy_path).calendar
    async with database_pool(settings, needs="roster") as pool:
        try:
            yield PostgresRoster(pool, calendar)
        except RosterError as err:
            raise UserError(str(err)) from err


async def _announce(settings: Settings, changes: list[RoutingChange], **extra: Any) -> None:
    """Tell each case where the roster put it, and print what was assigned and who heard."""
    assigned = sum(1 for c in changes if c.status == RoutingStatus.ASSIGNED)
    if not changes:
        print_json({**extra, "assigned": 0, "notified": 0, "failed": []})
        return
    try:
        client = (await case_client(settings)).client
    except ServiceError as err:
        # The roster is already written; the summary says which cases still need telling.
        print_json({**extra, "assigned": assigned, "notified": 0, "failed": [c.workflow_id for c in changes]})
        hint = f"{len(changes)} case(s) not told; `aftersales roster drain` tells them"
        raise ServiceError(f"{err} ({hint})") from err
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def tell(change: RoutingChange) -> bool:
        async with gate:
            try:
                await client.get_workflow_handle(change.workflow_id).signal(ROUTED_SIGNAL, change)
            except RPCError:
                # Mostly a case that ended meanwhile and gave its seat back itself; any other
                # miss is sent again by `roster drain`, so one failure must not stop the rest.
                return False
            return True

    heard = await asyncio.gather(*(tell(c) for c in changes))
    print_json({
        **extra,
        "assigned": assigned,
        "notified": sum(heard),
        "failed": [c.workflow_id for c, ok in zip(changes, heard, strict=True) if not ok],
    })


def _plain(value: Any) -> Any:
    """JSON-ready: instants and dates as ISO strings, which `print_json` alone would not give."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
