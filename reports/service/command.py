"""`aftersales report`: the sub-command's parser and runner.

`add_report_parser` registers the flags (`--since`, `--until`, `--format`, `--output`,
`--merchants`); `run_report` reads the period in the policy's business time zone, computes the
report once from the PostgreSQL projection (`DATABASE_URL`, else the embedded PostgreSQL under
the settings' home, started for the command), renders it as text, JSON or HTML, and prints it or
writes the file.
Failures leave as `UserError` (bad input, no tables yet, unwritable output) or `ServiceError`
(PostgreSQL unreachable), the two kinds every command reports as one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from cases.policy.snapshot import load_policy
from devstack.database import database_url_or_embedded
from devstack.postgres import EmbeddedPostgresError
from reports.service.charts import require_matplotlib
from reports.service.figures import Report, ReportError
from reports.service.html import render_html
from reports.service.merchants import DEFAULT_SHOWN
from reports.service.query import build_report
from reports.service.render import render_json, render_text
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings

DEFAULT_PERIOD = timedelta(days=90)
T = TypeVar("T")
# Each renderer takes the report and how many merchants its merchant table shows.
RENDERERS: dict[str, Callable[[Report, int], str]] = {
    "text": render_text,
    "json": lambda report, _merchants: render_json(report),  # the JSON keeps every merchant
    "html": render_html,
}
FORMATS = tuple(RENDERERS)


def add_report_parser(subparsers: Any) -> None:
    """Add `report` to the `aftersales` sub-commands."""
    p = subparsers.add_parser(
        "report", help="service report for the cases opened in a period (text, json or html)"
    )
    p.add_argument(
        "--since",
        help="start, inclusive: ISO date or date-time; without an offset it is read in the "
        "policy's business time zone (default: 90 days before --until)",
    )
    p.add_argument("--until", help="end, exclusive: ISO date or date-time (default: now)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", "-o", type=Path, help="write to FILE instead of stdout")
    add_merchants_flag(p)


def add_merchants_flag(p: argparse.ArgumentParser) -> None:
    """`--merchants N`, shared with `aftersales whatif`."""
    p.add_argument(
        "--merchants", type=shown_merchants, default=DEFAULT_SHOWN, metavar="N",
        help=f"how many of the worst merchants the text and HTML show (default {DEFAULT_SHOWN}); "
        "the JSON holds every merchant",
    )


def shown_merchants(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a positive whole number")
    return value


def parse_instant(text: str, zone: ZoneInfo, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as err:
        raise ReportError(
            f"{option}: {text!r} is not an ISO date or date-time (e.g. 2025-01-01 or "
            "2025-01-01T09:00+08:00)"
        ) from err
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def parse_period(
    since: str | None, until: str | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    end = parse_instant(until, zone, "--until") if until else now.astimezone(zone)
    start = parse_instant(since, zone, "--since") if since else end - DEFAULT_PERIOD
    if start >= end:
        raise ReportError(
            f"--since {start.isoformat()} must be before --until {end.isoformat()}"
        )
    return start, end


async def run_report(args: argparse.Namespace, settings: Settings) -> None:
    """`aftersales report`: read the projection, render, print or write the file.

    Without DATABASE_URL it reads the embedded PostgreSQL in `settings.home / "pgdata"`,
    starting it for the duration of the command (and leaving it running if it already was,
    say under `aftersales up`).
    """
    since, until = read_period(args, settings)
    report = await from_database(settings, lambda dsn: _report_from(dsn, since, until))
    write_rendered(lambda: RENDERERS[args.format](report, args.merchants), args.output)


def read_period(args: argparse.Namespace, settings: Settings) -> tuple[datetime, datetime]:
    """`--since`/`--until` in the policy's time zone, and matplotlib there for `--format html`."""
    zone = ZoneInfo(load_policy(settings.policy_path).calendar.timezone)
    try:
        period = parse_period(args.since, args.until, zone, datetime.now(UTC))
        if args.format == "html":
            require_matplotlib()
    except ReportError as err:
        raise UserError(str(err)) from err
    return period


async def from_database(settings: Settings, read: Callable[[str], Awaitable[T]]) -> T:
    """`read` over DATABASE_URL, or the embedded PostgreSQL started for as long as it takes."""
    try:
        with database_url_or_embedded(settings) as db:
            return await read(db.dsn)
    except EmbeddedPostgresError as err:
        raise ServiceError(str(err).splitlines()[0]) from err


def write_rendered(render: Callable[[], str], output: Path | None) -> None:
    """Render, then write to `output` or stdout; a render or write failure is one line, exit 2."""
    try:
        text = render()
    except ReportError as err:
        raise UserError(str(err)) from err
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"--output {output}: cannot write ({err.strerror or err})") from err


async def _report_from(dsn: str, since: datetime, until: datetime) -> Report:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        raise ServiceError(f"cannot reach PostgreSQL: {err}") from err
    try:
        return await build_report(conn, since, until)
    except asyncpg.UndefinedTableError as err:
        raise UserError(
            "the database has no case tables yet; run `aftersales migrate` first"
        ) from err
    finally:
        await conn.close()
