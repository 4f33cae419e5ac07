"""`aftersales roster`: the routing roster from the command line, against the session's PostgreSQL.

The database is shared by the whole session, so every test names its own teams and agents, and
commands that do not depend on each other run at once to keep the file quick.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from activities.roster import queries as q
from cases.routing.models import Requirement
from tests.system.test_cli import ROOT, _env, assert_one_line_user_error

UNREACHABLE_TEMPORAL = "127.0.0.1:1"


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def roster(pool: asyncpg.Pool, postgres_dsn: str) -> Any:
    """Runs `aftersales roster ...` on the migrated session database; Temporal unreachable unless given."""

    async def run(*args: str, stdin: str | None = None,
                  address: str = UNREACHABLE_TEMPORAL) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "starter.cli", "roster", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=_env(address, "aftersales", {"DATABASE_URL": postgres_dsn}), cwd=ROOT,
        )
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), 60)
        assert proc.returncode is not None
        return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())

    return run


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def pick(listing: dict[str, Any], names: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    teams = {t["name"]: t for t in listing["teams"] if t["name"] in names}
    agents = {a["agent_id"]: a for a in listing["agents"] if a["team"] in names}
    return teams, agents


NOTHING_MOVED = {"assigned": 0, "notified": 0, "failed": []}
HEADER = "kind,name,team,skills,capacity,presence,hours,lead\n"


@pytest.mark.devserver
async def test_roster_commands_keep_the_roster_and_tell_the_cases_they_assign(
    roster: Any, pool: asyncpg.Pool, dev_server: Any, dev_client: Any, tmp_path: Path
) -> None:
    s = _suffix()
    care, agent = f"care-{s}", f"ann-{s}@shop"
    desk, vip = f"desk-{s}", f"vip-{s}"
    live, gone = f"case-live-{s}", f"case-gone-{s}"
    good = HEADER + (
        f"team,{desk},,category:logistics;lang:zh,,,,lead-{s}\n"
        f"team,{vip},,vip,,,00:00-24:00,\n"
        f"agent,dee-{s},{desk},lang:zh,4,,,\n"
        f"agent,eve-{s},{desk},,,away,,\n"
        f"agent,fay-{s},{vip},vip;lang:en,2,offline,,\n"
    )
    bad = tmp_path / "people.csv"
    bad.write_text(HEADER + f"team,late-{s},,,,,,\nagent,gus-{s},late-{s},,3,,,\nagent,hal-{s},late-{s},,x,,,\n")

    # Two cases wait in a team the good file defines; its first agent takes both. A running
    # workflow takes the notice even with no worker polling; the other case's workflow does not exist.
    at = datetime.now(UTC)
    requirement = Requirement(category="logistics", tier="general", language="zh").model_dump_json()
    for case, workflow_id in ((f"c1-{s}", live), (f"c2-{s}", gone)):
        await pool.execute(q.ENQUEUE, case, workflow_id, desk, requirement, 1, [], at)
    handle = await dev_client.start_workflow("RosterNoticeProbe", id=live, task_queue=f"nobody-{s}")
    try:
        # Commands on different teams run at once: each process spends most of its time starting.
        added, imported, refused = await asyncio.gather(
            roster("team", "add", care, "--skills", "category:logistics,lang:zh",
                   "--hours", "09:00-18:00", "--lead", "lead-li"),
            roster("import", "-", stdin=good, address=dev_server.address),
            roster("import", str(bad), address=dev_server.address),
        )
        assert ok(added) == {"team": {"name": care, "skills": ["category:logistics", "lang:zh"],
                                      "hours": "09:00-18:00", "lead": "lead-li"}}
        assert ok(imported) == {"teams": 2, "agents": 3, "assigned": 2, "notified": 1, "failed": [gone]}
        assert_one_line_user_error(refused, f"{bad} line 4: capacity 'x' is not a whole number")

        added_agent, present, capacity, drained = await asyncio.gather(
            roster("agent", "add", agent, "--team", care),
            roster("presence", f"eve-{s}", "available"),
            roster("capacity", f"fay-{s}", "7"),
            roster("drain", "--team", desk, address=dev_server.address),
        )
        assert ok(added_agent) == {
            "agent": {"agent_id": agent, "team": care, "skills": [], "capacity": 5, "presence": "available"},
            **NOTHING_MOVED}
        assert ok(present) == ok(capacity) == NOTHING_MOVED
        # Neither case recorded its seat (no worker runs them), so drain tells both again.
        assert ok(drained) == {"assigned": 2, "notified": 1, "failed": [gone]}

        listing = ok(await roster("list"))
    finally:
        await handle.terminate()
    teams, agents = pick(listing, {care, desk, vip})
    assert teams == {
        care: {"name": care, "skills": ["category:logistics", "lang:zh"], "hours": "09:00-18:00",
               "lead": "lead-li", "queued": 0},
        desk: {"name": desk, "skills": ["category:logistics", "lang:zh"], "hours": None,
               "lead": f"lead-{s}", "queued": 0},
        vip: {"name": vip, "skills": ["vip"], "hours": "00:00-24:00", "lead": None, "queued": 0},
    }
    assert {a: (v["team"], v["skills"], v["capacity"], v["presence"], v["load"]) for a, v in agents.items()} == {
        agent: (care, [], 5, "available", 0),
        f"dee-{s}": (desk, ["lang:zh"], 4, "available", 2),
        f"eve-{s}": (desk, [], 5, "available", 0),
        f"fay-{s}": (vip, ["vip", "lang:en"], 7, "offline", 0),
    }
    # Nothing of the refused file was written, not even its rows before the bad one.
    assert not any(t["name"] == f"late-{s}" for t in listing["teams"])
    assert not any(a["team"] == f"late-{s}" for a in listing["agents"])


async def test_bad_arguments_and_unknown_names_are_one_line_exit_2(roster: Any) -> None:
    s = _suffix()
    capacity, skill, hours, team, agent = await asyncio.gather(
        roster("agent", "add", f"ann-{s}", "--team", f"care-{s}", "--capacity", "-1"),
        roster("team", "add", f"care-{s}", "--skills", "cat:foo"),
        roster("team", "add", f"care-{s}", "--hours", "9-18"),
        roster("agent", "add", f"ann-{s}", "--team", f"nowhere-{s}"),
        roster("presence", f"nobody-{s}", "away"),
    )
    assert_one_line_user_error(capacity, "aftersales roster: --capacity -1 must be 0 or more")
    assert_one_line_user_error(skill, "--skills 'cat:foo'")
    assert_one_line_user_error(hours, "--hours '9-18'", "09:00-18:00")
    assert_one_line_user_error(team, f"team 'nowhere-{s}'", "does not exist")
    assert_one_line_user_error(agent, f"agent 'nobody-{s}'", "does not exist")


def test_the_sample_roster_of_the_readme_is_valid() -> None:
    from starter.cli.roster_input import parse_roster_csv

    text = (Path(__file__).resolve().parents[2] / "samples" / "roster.csv").read_text(encoding="utf-8")
    teams, agents = parse_roster_csv(text, "samples/roster.csv", set())
    assert {t.name for t in teams} == {"customer_service", "major_complaints"}
    assert {a.team for a in agents} == {t.name for t in teams} and len(agents) == 4
