"""Reading the report's figures from PostgreSQL: `build_report`.

The statements live in `report.sql` next to this module (shipped in the wheel, read through
`importlib.resources`) and read only the projection tables `cases`, `sla_clocks`, `case_events`
(for the return leg, the merchant's duties and the platform's interventions), the roster's
`case_routing`, and the `merchant_ledger` and `settlement_holds` written with the record, so a
report never touches Temporal. `build_report` runs the statements in one read-only repeatable-read
transaction, feeds the satisfied-rating threshold from `figures.SATISFIED_MIN_RATING` (STANDARDS
S6.3) as a query parameter, and hands the rows to `figures.assemble`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources

import asyncpg

from reports.service.figures import SATISFIED_MIN_RATING, Report, ReportError, assemble

SQL_RESOURCE = "report.sql"
Rows = list[asyncpg.Record]
_NAME_MARKER = "-- name:"


@cache
def queries() -> dict[str, str]:
    """The named statements of report.sql."""
    text = (resources.files(__package__ or "reports") / SQL_RESOURCE).read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith(_NAME_MARKER):
            current = found.setdefault(line.removeprefix(_NAME_MARKER).strip(), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";") for name, lines in found.items()}


async def build_report(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection, since: datetime, until: datetime
) -> Report:
    """Compute the report for cases opened in [since, until); both must be timezone-aware.

    With a pool, the queries run in one read-only repeatable-read transaction so the case, clock,
    duty and intervention figures describe the same moment. With a connection already in a
    transaction (a test, or a caller composing several reads) that transaction is used as it is.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ReportError("since and until must carry a time zone")
    if since >= until:
        raise ReportError(f"the period is empty: since {since} is not before until {until}")
    generated_at = datetime.now(UTC)
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                rows = await _fetch(conn, since, until)
    elif pool_or_conn.is_in_transaction():
        rows = await _fetch(pool_or_conn, since, until)
    else:
        async with pool_or_conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await _fetch(pool_or_conn, since, until)
    return assemble(since, until, generated_at, *rows)


async def _fetch(
    conn: asyncpg.Connection, since: datetime, until: datetime
) -> tuple[Rows, Rows, Rows, Rows]:
    """The rows of `case_figures`, `clock_figures`, `merchant_duties` and `interventions`, in
    that order: the order `figures.assemble` takes them in."""
    sql = queries()
    case_rows = await conn.fetch(sql["case_figures"], since, until, SATISFIED_MIN_RATING)
    clock_rows = await conn.fetch(sql["clock_figures"], since, until)
    duty_rows = await conn.fetch(sql["merchant_duties"], since, until)
    intervention_rows = await conn.fetch(sql["interventions"], since, until)
    return case_rows, clock_rows, duty_rows, intervention_rows
