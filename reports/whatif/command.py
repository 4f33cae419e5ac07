"""`aftersales whatif`: replay a period's cases under a candidate policy file.

The flags and their reading are those of `aftersales report` (reports/service/command.py): `--since`
and `--until` in the business time zone, `DATABASE_URL` or the embedded PostgreSQL, `--format`
text, json or html, `--output FILE`, `--merchants N`. `--policy` names the candidate; a missing or invalid file
is a `PolicyError`, one line on stderr like every bad input. With `--merchant`, only that merchant's
cases are replayed, and the candidate is the merchant's own policy file, laid over the platform's
in force as its cases' policies are (a looser value is refused, naming the key). While it runs, a progress line is
kept on stderr when stderr is a terminal; a large period is replayed on every core
(reports/whatif/parallel.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from cases.ids import is_merchant_id
from cases.policy.merchant import merged, parse_overlay
from cases.policy.snapshot import PolicyError, load_policy
from reports.service.command import (
    FORMATS,
    add_merchants_flag,
    from_database,
    read_period,
    write_rendered,
)
from reports.whatif.errors import database_failure
from reports.whatif.figures import WhatIf
from reports.whatif.html import render_html
from reports.whatif.parallel import whatif_from_database
from reports.whatif.render import render_json, render_text
from reports.whatif.run import Progress
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings

# Each renderer takes the what-if and how many merchants its merchant table shows.
RENDERERS: dict[str, Callable[[WhatIf, int], str]] = {
    "text": render_text,
    "json": lambda report, _merchants: render_json(report),  # the JSON keeps every merchant
    "html": render_html,
}
assert tuple(RENDERERS) == FORMATS
_MERCHANT_CASES = "SELECT case_id FROM cases WHERE merchant_id = $1 AND opened_at >= $2 AND opened_at < $3"


def add_whatif_parser(subparsers: Any) -> None:
    """Add `whatif` to the `aftersales` sub-commands."""
    p = subparsers.add_parser(
        "whatif",
        help="replay the cases opened in a period under a candidate policy, beside what happened",
    )
    p.add_argument("--policy", type=Path, required=True, help="the candidate policy file (TOML)")
    p.add_argument(
        "--since",
        help="start, inclusive: ISO date or date-time; without an offset it is read in the "
        "policy's business time zone (default: 90 days before --until)",
    )
    p.add_argument("--until", help="end, exclusive: ISO date or date-time (default: now)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", "-o", type=Path, help="write to FILE instead of stdout")
    p.add_argument(
        "--merchant",
        help="replay this merchant's cases only; --policy is then the merchant's own file over the platform's",
    )
    add_merchants_flag(p)


def progress_line(stream: TextIO) -> Progress | None:
    """A `\\r` progress line on `stream`, or None when it is not a terminal (a log, a pipe)."""
    if not stream.isatty():
        return None

    shown: list[tuple[int, int]] = []

    def show(done: int, total: int) -> None:
        if shown and shown[-1] == (done, total):
            return
        shown[:] = [(done, total)]
        width = 30
        filled = width * done // total if total else width
        end = "\n" if done >= total else ""
        stream.write(f"\rreplaying [{'#' * filled}{'.' * (width - filled)}] {done}/{total}{end}")
        stream.flush()

    return show


async def run_whatif(args: argparse.Namespace, settings: Settings) -> None:
    merchant = args.merchant
    if merchant is None:
        candidate = load_policy(args.policy)  # PolicyError: one line, exit 2
    else:
        if not is_merchant_id(merchant):
            raise UserError(f"--merchant: {merchant[:40]!r} is not a merchant id")
        candidate = merged(load_policy(settings.policy_path), parse_overlay(_read(args.policy)))
    since, until = read_period(args, settings)
    report = await from_database(
        settings, lambda dsn: _whatif_from(dsn, since, until, candidate, str(args.policy), merchant)
    )

    write_rendered(lambda: RENDERERS[args.format](report, args.merchants), args.output)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PolicyError(f"{path}: cannot read ({err.__class__.__name__})") from None


async def _whatif_from(
    dsn: str, since: datetime, until: datetime, candidate: Any, name: str, merchant: str | None = None
) -> WhatIf:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        raise ServiceError(f"cannot reach PostgreSQL: {err}") from err
    try:
        case_ids = None
        if merchant is not None:
            rows = await conn.fetch(_MERCHANT_CASES, merchant, since, until)
            case_ids = [r["case_id"] for r in rows]
        return await whatif_from_database(
            conn, dsn, since, until, candidate, name, progress_line(sys.stderr), case_ids=case_ids
        )
    except Exception as err:
        mapped = database_failure(err)
        if mapped is None or mapped is err:
            raise
        raise mapped from err
    finally:
        await conn.close()
