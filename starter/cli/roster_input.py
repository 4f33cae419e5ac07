"""What `aftersales roster` accepts: one check per field, and the rows of an imported CSV file.

Each check raises a `UserError` naming the option or column the value came from, so a typo is
refused with one line before anything is written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cases.routing import dispatch
from cases.routing.models import Presence
from runtime.errors import UserError

_TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,39}$")
_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9_\-.@]{0,63}$")
_WHOLE = re.compile(r"^[+-]?[0-9]+$")
MAX_CAPACITY = 1000
DEFAULT_CAPACITY = 5
MAX_LEAD = 100
COLUMNS = ("kind", "name", "team", "skills", "capacity", "presence", "hours", "lead")
TEAM_ONLY = ("hours", "lead")
AGENT_ONLY = ("team", "capacity", "presence")


# -- the rules every field follows, on the command line and in a file ----------------------------


def team_name(text: str, field: str) -> str:
    value = text.strip()
    if not value:
        raise UserError(f"{field} is empty")
    if not _TEAM_NAME.match(value):
        raise UserError(
            f"{field} {value!r} must be 1 to 40 of a-z, 0-9, '_' and '-', starting with a letter or digit"
        )
    return value


def agent_id(text: str, field: str) -> str:
    value = text.strip()
    if not value:
        raise UserError(f"{field} is empty")
    if not _AGENT_ID.match(value):
        raise UserError(
            f"{field} {value!r} must be 1 to 64 of a-z, 0-9, '_', '-', '.' and '@', "
            "starting with a letter or digit"
        )
    return value


def skills(tokens: Sequence[str], field: str) -> list[str]:
    chosen: list[str] = []
    for raw in tokens:
        token = raw.strip()
        if not token:
            raise UserError(f"{field} has an empty skill")
        try:
            dispatch.check_skill(token)
        except ValueError as err:
            raise UserError(_reword(err, f"skill {token!r}", f"{field} {token!r}")) from err
        if token not in chosen:
            chosen.append(token)
    return chosen


def split_skills(text: str | None, separator: str) -> list[str]:
    if text is None or not text.strip():
        return []
    return text.split(separator)


def hours(text: str | None, field: str) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        dispatch.parse_hours(value)
    except ValueError as err:
        raise UserError(_reword(err, f"hours {value!r}", f"{field} {value!r}")) from err
    return value


def capacity(text: str, field: str) -> int:
    value = text.strip()
    if not _WHOLE.match(value):
        raise UserError(f"{field} {text!r} is not a whole number")
    number = int(value)
    if number < 0:
        raise UserError(f"{field} {number} must be 0 or more")
    if number > MAX_CAPACITY:
        raise UserError(f"{field} {number} must be at most {MAX_CAPACITY}")
    return number


def presence(text: str, field: str) -> Presence:
    try:
        return Presence(text.strip().lower())
    except ValueError as err:
        choices = ", ".join(p.value for p in Presence)
        raise UserError(f"{field} {text!r} must be one of {choices}") from err


def lead(text: str | None, field: str) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    if len(value) > MAX_LEAD or not value.isprintable():
        raise UserError(f"{field} {value!r} must be one line of at most {MAX_LEAD} characters")
    return value


def _reword(err: ValueError, old: str, new: str) -> str:
    """The check's own reason, but naming the option or column the value came from."""
    message = str(err)
    return new + message[len(old):] if message.startswith(old) else f"{new}: {message}"


@dataclass(frozen=True)
class TeamRow:
    name: str
    skills: list[str]
    hours: str | None
    lead: str | None


@dataclass(frozen=True)
class AgentRow:
    agent_id: str
    team: str
    skills: list[str]
    capacity: int
    presence: Presence


def parse_roster_csv(text: str, label: str, known_teams: set[str]) -> tuple[list[TeamRow], list[AgentRow]]:
    """Every row of the file, checked; the first bad one is a UserError naming its line."""
    teams: list[TeamRow] = []
    agents: list[AgentRow] = []
    first_seen: dict[tuple[str, str], int] = {}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    line = 1
    try:
        header = next(reader, None)
        if header is None or [c.strip().lower() for c in header] != list(COLUMNS):
            raise UserError(f"{label} line 1: the header must be {','.join(COLUMNS)}")
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            try:
                row = _row(cells, teams, known_teams)
            except UserError as err:
                raise UserError(f"{label} line {line}: {err}") from err
            key = ("team", row.name) if isinstance(row, TeamRow) else ("agent", row.agent_id)
            if key in first_seen:
                raise UserError(
                    f"{label} line {line}: {key[0]} {key[1]!r} is already on line {first_seen[key]}"
                )
            first_seen[key] = line
            if isinstance(row, TeamRow):
                teams.append(row)
            else:
                agents.append(row)
    except csv.Error as err:
        raise UserError(f"{label} line {reader.line_num}: {err}") from err
    return teams, agents


def _row(cells: list[str], teams: list[TeamRow], known_teams: set[str]) -> TeamRow | AgentRow:
    if len(cells) != len(COLUMNS):
        raise UserError(f"{len(cells)} cells, but the header has {len(COLUMNS)}")
    row = dict(zip(COLUMNS, cells, strict=True))
    kind = row["kind"].strip().lower()
    if kind == "team":
        _leave_empty(row, AGENT_ONLY, "team")
        return TeamRow(
            name=team_name(row["name"], "name"),
            skills=skills(split_skills(row["skills"], ";"), "skills"),
            hours=hours(row["hours"], "hours"),
            lead=lead(row["lead"], "lead"),
        )
    if kind == "agent":
        _leave_empty(row, TEAM_ONLY, "agent")
        agent = agent_id(row["name"], "name")
        team = team_name(row["team"], "team")
        if team not in known_teams and all(t.name != team for t in teams):
            raise UserError(f"team {team!r} is neither on an earlier line nor in the roster")
        return AgentRow(
            agent_id=agent,
            team=team,
            skills=skills(split_skills(row["skills"], ";"), "skills"),
            capacity=capacity(row["capacity"], "capacity") if row["capacity"].strip() else DEFAULT_CAPACITY,
            presence=presence(row["presence"], "presence") if row["presence"].strip() else Presence.AVAILABLE,
        )
    raise UserError(f"kind {row['kind']!r} must be team or agent")


def _leave_empty(row: dict[str, str], columns: Sequence[str], kind: str) -> None:
    # A value the row's kind has no use for is more likely a shifted column than an intent.
    for column in columns:
        if row[column].strip():
            raise UserError(f"{column} {row[column]!r} has no meaning on {kind} rows; leave it empty")
