"""The service report (docs/STANDARDS.md S9): `aftersales report`.

For the cases opened in a period [since, until) it computes, for the whole period, per tier and per
category, the figures of STANDARDS S9.1: first response time (p50/p90), on-time
rate per SLA clock, resolution rate, complaint handling rate, CSAT mean and satisfied share against
the 90 % target, follow-up rate, escalations and reopen rate. The SQL lives in `report.sql` next to
this module and reads only the PostgreSQL projection (`cases`, `sla_clocks`), so a report never
touches Temporal. `build_report` returns a pydantic `Report` whose counts are the raw numerators
and denominators and whose rates are derived from them, and three renderers turn it into an aligned
text table, JSON, or a self-contained HTML page with charts (matplotlib, the optional `report`
extra). `add_report_parser` and `run_report` are the CLI glue.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import BaseModel, computed_field

from cases.models import Category, ClockName, Tier
from runtime.settings import Settings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSAT_TARGET = 0.90
SATISFIED_MIN_RATING = 4
RATINGS = (1, 2, 3, 4, 5)
DEFAULT_PERIOD = timedelta(days=90)
REPORT_EXTRA = "report"
FORMATS = ("text", "json", "html")

# One colour per tier, shared by every chart, so a tier reads the same everywhere.
TIER_COLOURS = {"urgent": "#c0392b", "complex": "#e67e22", "general": "#2e86c1"}

_NAME_MARKER = "-- name:"


class ReportError(Exception):
    """The report cannot be produced as asked (bad period, missing optional dependency)."""


# ---------------------------------------------------------------------------------------------
# The figures


def _ratio(numerator: int, denominator: int) -> float | None:
    # No cases (or no ratings, no due follow-ups) is "no figure", not 0 %: an empty tier did not
    # fail its target.
    return numerator / denominator if denominator else None


class ClockFigures(BaseModel):
    """One SLA clock in one group. A clock is decided once met or breached; see report.sql."""

    decided: int = 0
    on_time: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """Clocks met without a breach, over clocks met or breached."""
        return _ratio(self.on_time, self.decided)


class GroupFigures(BaseModel):
    """Every figure for one group of cases (all, one tier, or one category).

    The stored fields are counts and the two percentiles; the rates are derived from them so a
    reader can always see what a percentage was taken of.
    """

    cases: int = 0
    responded: int = 0
    first_response_p50_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    resolved: int = 0
    handled: int = 0
    rated: int = 0
    csat_mean: float | None = None
    satisfied: int = 0
    csat_distribution: dict[int, int] = {r: 0 for r in RATINGS}
    follow_ups_required: int = 0
    follow_ups_done: int = 0
    escalated_cases: int = 0
    escalations: int = 0
    reopened: int = 0
    clocks: dict[str, ClockFigures] = {}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def resolution_rate(self) -> float | None:
        """Cases with a resolution executed (`resolved_at` set), over cases."""
        return _ratio(self.resolved, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def complaint_handling_rate(self) -> float | None:
        """Cases dealt with, over cases. A case counts as handled once it has an outcome: it is
        closed or withdrawn, or a resolution has been executed (even if the customer has yet to
        confirm or rate it). Cases still waiting for a remedy are not handled."""
        return _ratio(self.handled, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def satisfied_share(self) -> float | None:
        """Ratings of 4 or 5, over ratings given (STANDARDS S6.3)."""
        return _ratio(self.satisfied, self.rated)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def csat_target_met(self) -> bool | None:
        """Whether the satisfied share reaches the 90 % target; None without ratings."""
        share = self.satisfied_share
        return None if share is None else share >= CSAT_TARGET

    @computed_field  # type: ignore[prop-decorator]
    @property
    def follow_up_rate(self) -> float | None:
        """Cases with a follow-up outcome recorded (any outcome, including `unreachable`), over
        cases whose follow-up is required."""
        return _ratio(self.follow_ups_done, self.follow_ups_required)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def escalated_share(self) -> float | None:
        """Cases escalated at least once, over cases."""
        return _ratio(self.escalated_cases, self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reopen_rate(self) -> float | None:
        """Cases reopened at least once (dispute or recurrence), over cases."""
        return _ratio(self.reopened, self.cases)


class Report(BaseModel):
    """The service report for the cases opened in [since, until).

    `by_tier` always lists the three tiers (an empty tier is worth seeing); `by_category` lists
    only the categories that had cases. Both are in the order of the domain enums.
    """

    since: datetime
    until: datetime
    generated_at: datetime
    csat_target: float = CSAT_TARGET
    overall: GroupFigures
    by_tier: dict[str, GroupFigures]
    by_category: dict[str, GroupFigures]


@cache
def queries() -> dict[str, str]:
    """The named statements of report.sql."""
    text = (resources.files("starter") / "report.sql").read_text(encoding="utf-8")
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

    With a pool, both queries run in one read-only repeatable-read transaction so the case and
    clock figures describe the same moment. With a connection already in a transaction (a test,
    or a caller composing several reads) that transaction is used as it is.
    """
    if since.tzinfo is None or until.tzinfo is None:
        raise ReportError("since and until must carry a time zone")
    if since >= until:
        raise ReportError(f"the period is empty: since {since} is not before until {until}")
    generated_at = datetime.now(UTC)
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                case_rows, clock_rows = await _fetch(conn, since, until)
    elif pool_or_conn.is_in_transaction():
        case_rows, clock_rows = await _fetch(pool_or_conn, since, until)
    else:
        async with pool_or_conn.transaction(isolation="repeatable_read", readonly=True):
            case_rows, clock_rows = await _fetch(pool_or_conn, since, until)
    return _assemble(since, until, generated_at, case_rows, clock_rows)


async def _fetch(
    conn: Any, since: datetime, until: datetime
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    sql = queries()
    case_rows = await conn.fetch(sql["case_figures"], since, until)
    clock_rows = await conn.fetch(sql["clock_figures"], since, until)
    return case_rows, clock_rows


def _assemble(
    since: datetime,
    until: datetime,
    generated_at: datetime,
    case_rows: Sequence[asyncpg.Record],
    clock_rows: Sequence[asyncpg.Record],
) -> Report:
    groups: dict[tuple[str, str], GroupFigures] = {}
    for row in case_rows:
        groups[(row["dimension"], row["grp"])] = GroupFigures(
            cases=row["cases"],
            responded=row["responded"],
            first_response_p50_seconds=row["first_response_p50"],
            first_response_p90_seconds=row["first_response_p90"],
            resolved=row["resolved"],
            handled=row["handled"],
            rated=row["rated"],
            csat_mean=row["csat_mean"],
            satisfied=row["satisfied"],
            csat_distribution={r: row[f"rated_{r}"] for r in RATINGS},
            follow_ups_required=row["follow_ups_required"],
            follow_ups_done=row["follow_ups_done"],
            escalated_cases=row["escalated_cases"],
            escalations=row["escalations"],
            reopened=row["reopened"],
        )
    clocks: dict[tuple[str, str], dict[str, ClockFigures]] = {}
    for row in clock_rows:
        clocks.setdefault((row["dimension"], row["grp"]), {})[row["clock"]] = ClockFigures(
            decided=row["decided"], on_time=row["on_time"]
        )
    for key, figures in groups.items():
        found = clocks.get(key, {})
        order = _ordered(found, [c.value for c in ClockName])
        figures.clocks = {name: found[name] for name in order}

    def dimension(name: str, order: list[str], keep_empty: bool) -> dict[str, GroupFigures]:
        present = {grp: g for (dim, grp), g in groups.items() if dim == name}
        names = _ordered(present, order)
        if keep_empty:
            names = order + [n for n in names if n not in order]
        return {n: present.get(n) or GroupFigures() for n in names}

    return Report(
        since=since,
        until=until,
        generated_at=generated_at,
        overall=groups.get(("all", "all")) or GroupFigures(),
        by_tier=dimension("tier", [t.value for t in Tier], keep_empty=True),
        by_category=dimension("category", [c.value for c in Category], keep_empty=False),
    )


def _ordered(present: Iterable[str], order: list[str]) -> list[str]:
    """Known names in domain order, then any name the enums do not know (newer data)."""
    names = set(present)
    return [n for n in order if n in names] + sorted(names - set(order))


# ---------------------------------------------------------------------------------------------
# Formatting helpers shared by the text and HTML renderers


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def fmt_target(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "missed")


def _fmt_mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_clock(figures: ClockFigures | None) -> str:
    if figures is None:
        return "-"
    return f"{fmt_rate(figures.on_time_rate)} ({figures.on_time}/{figures.decided})"


def _groups(report: Report) -> list[tuple[str, GroupFigures]]:
    return (
        [("all cases", report.overall)]
        + [(f"tier {name}", g) for name, g in report.by_tier.items()]
        + [(f"category {name}", g) for name, g in report.by_category.items()]
    )


def _clock_names(report: Report) -> list[str]:
    seen = {name for _, g in _groups(report) for name in g.clocks}
    return _ordered(seen, [c.value for c in ClockName])


def _period_text(report: Report) -> str:
    return (
        f"cases opened from {report.since.isoformat(' ', 'minutes')} "
        f"to {report.until.isoformat(' ', 'minutes')} (end excluded)"
    )


SUMMARY_HEADERS = (
    "group", "cases", "FR p50", "FR p90", "resolved", "handled", "CSAT", "satisfied",
    "target", "follow-up", "escalated", "escalations", "reopened",
)


def _summary_row(label: str, g: GroupFigures) -> list[str]:
    return [
        label,
        str(g.cases),
        fmt_duration(g.first_response_p50_seconds),
        fmt_duration(g.first_response_p90_seconds),
        fmt_rate(g.resolution_rate),
        fmt_rate(g.complaint_handling_rate),
        _fmt_mean(g.csat_mean),
        fmt_rate(g.satisfied_share),
        fmt_target(g.csat_target_met),
        fmt_rate(g.follow_up_rate),
        fmt_rate(g.escalated_share),
        str(g.escalations),
        fmt_rate(g.reopen_rate),
    ]


DEFINITIONS = (
    ("FR p50 / p90", "median and 90th percentile of first response time (first response "
     "minus opening), over cases that have had a first response"),
    ("on time", "per SLA clock: clocks met without a breach, over clocks met or breached; "
     "running, paused and stopped clocks have no verdict yet and are left out"),
    ("resolved", "cases with a resolution executed, over cases"),
    ("handled", "complaint handling rate: cases closed, withdrawn or with a resolution "
     "executed, over cases"),
    ("CSAT", "mean rating (1-5, 5 best) over ratings given"),
    ("satisfied", "ratings of 4 or 5 over ratings given; target "
     f"{CSAT_TARGET:.0%} (STANDARDS S6.4)"),
    ("follow-up", "cases with a follow-up outcome recorded (including unreachable), over "
     "cases whose follow-up is required"),
    ("escalated", "cases escalated at least once, over cases; escalations is the total count"),
    ("reopened", "cases reopened at least once, over cases"),
)


# ---------------------------------------------------------------------------------------------
# Text


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        # The first column is a label; every other column holds a number and aligns right.
        numbers = zip(cells[1:], widths[1:], strict=True)
        parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
        return "  ".join(parts).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def render_text(report: Report) -> str:
    """The report as aligned plain-text tables, for a terminal or an e-mail."""
    groups = _groups(report)
    overall = report.overall
    lines = [
        "After-sales service report",
        _period_text(report),
        f"generated {report.generated_at.isoformat(' ', 'seconds')}",
        f"CSAT target: satisfied share >= {CSAT_TARGET:.0%} -> "
        + (
            "no ratings"
            if overall.csat_target_met is None
            else f"{fmt_rate(overall.satisfied_share)}, {fmt_target(overall.csat_target_met)}"
        ),
        "",
        *_table(SUMMARY_HEADERS, [_summary_row(label, g) for label, g in groups]),
        "",
        "On-time rate per SLA clock (on time / decided)",
        *_table(
            ["group", *_clock_names(report)],
            [[label, *(_fmt_clock(g.clocks.get(c)) for c in _clock_names(report))]
             for label, g in groups],
        ),
        "",
        "CSAT distribution (number of ratings)",
        *_table(
            ["group", *(str(r) for r in RATINGS), "rated"],
            [[label, *(str(g.csat_distribution.get(r, 0)) for r in RATINGS), str(g.rated)]
             for label, g in groups],
        ),
        "",
        "Definitions",
        *(f"  {name}: {text}" for name, text in DEFINITIONS),
    ]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"


# ---------------------------------------------------------------------------------------------
# HTML


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise ReportError(
            "the HTML report draws its charts with matplotlib, which is not installed; "
            f"install the `{REPORT_EXTRA}` extra: pip install 'aftersales[{REPORT_EXTRA}]'"
        ) from err
    return matplotlib


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    # No Software metadata: the page must not carry any URL, even inside an image.
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _chart_on_time(report: Report) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    clocks = _clock_names(report)
    tiers = list(report.by_tier)
    figure = Figure(figsize=(5.6, 3.4))
    ax = figure.subplots()
    width = 0.8 / max(len(tiers), 1)
    for i, tier in enumerate(tiers):
        xs = [c + (i - (len(tiers) - 1) / 2) * width for c in range(len(clocks))]
        rates = [report.by_tier[tier].clocks.get(name) for name in clocks]
        heights = [(r.on_time_rate or 0.0) * 100 if r else 0.0 for r in rates]
        bars = ax.bar(xs, heights, width, label=tier, color=TIER_COLOURS.get(tier))
        for bar, r in zip(bars, rates, strict=True):
            text = "n/a" if r is None or r.on_time_rate is None else f"{r.on_time_rate:.0%}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(clocks)), [c.replace("_", "\n") for c in clocks], fontsize=8)
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_title("On-time rate per SLA clock, by tier")
    ax.legend(loc="upper center", ncol=len(tiers), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


def _chart_csat(report: Report) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6, 3.4))
    ax = figure.subplots()
    bottoms = [0] * len(RATINGS)
    for tier, g in report.by_tier.items():
        counts = [g.csat_distribution.get(r, 0) for r in RATINGS]
        ax.bar([str(r) for r in RATINGS], counts, 0.6, bottom=bottoms, label=tier,
               color=TIER_COLOURS.get(tier))
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    for x, total in enumerate(bottoms):
        ax.annotate(str(total), (x, total), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    overall = report.overall
    share = fmt_rate(overall.satisfied_share)
    ax.set_title(
        f"CSAT distribution: mean {_fmt_mean(overall.csat_mean)}\nsatisfied {share} "
        f"(target {CSAT_TARGET:.0%}: {fmt_target(overall.csat_target_met)})",
        fontsize=11,
    )
    ax.set_xlabel("rating (5 = best)")
    ax.set_ylabel("ratings")
    ax.set_ylim(0, max(max(bottoms), 1) * 1.2)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


def _chart_first_response(report: Report) -> Figure:
    from matplotlib.figure import Figure

    tiers = list(report.by_tier)
    values = [
        (report.by_tier[t].first_response_p50_seconds, report.by_tier[t].first_response_p90_seconds)
        for t in tiers
    ]
    longest = max((v for pair in values for v in pair if v is not None), default=0.0)
    # Hours read better for day-scale targets, minutes for the urgent tier's one hour.
    unit, scale = ("hours", 3600.0) if longest >= 2 * 3600 else ("minutes", 60.0)
    figure = Figure(figsize=(5.6, 3.4))
    ax = figure.subplots()
    for offset, index, label, alpha in ((-0.2, 0, "p50", 0.55), (0.2, 1, "p90", 1.0)):
        heights = [(v[index] or 0.0) / scale for v in values]
        bars = ax.bar([x + offset for x in range(len(tiers))], heights, 0.4, label=label,
                      color=[TIER_COLOURS.get(t, "#777777") for t in tiers], alpha=alpha,
                      edgecolor="#333333", linewidth=0.5)
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(f"{label} {fmt_duration(v[index])}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
    ax.set_xticks(range(len(tiers)), tiers)
    ax.set_ylabel(unit)
    ax.set_ylim(0, max(longest / scale, 1.0) * 1.2)
    ax.set_title("First response time by tier (p50 light, p90 dark)")
    ax.grid(axis="y", alpha=0.3)
    return figure


_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
p.meta { color: #555; margin: 2px 0; font-size: 13px; }
table { border-collapse: collapse; font-size: 12px; margin-top: 8px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
tr.all td { font-weight: bold; background: #fafafa; }
.missed { color: #b03a2e; font-weight: bold; }
.met { color: #1e8449; font-weight: bold; }
div.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
img { max-width: 100%; }
dl { font-size: 12px; } dt { font-weight: bold; } dd { margin: 0 0 6px 16px; }
"""


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], first_is_all: bool) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="all"' if first_is_all and i == 0 else ""
        cells = []
        for cell in row:
            css = f' class="{cell}"' if cell in ("met", "missed") else ""
            cells.append(f"<td{css}>{html.escape(cell)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(report: Report) -> str:
    """A self-contained HTML page: tables and three charts embedded as base64 PNG.

    Nothing is fetched from anywhere (no scripts, fonts, styles or images by URL), so the file
    can be mailed, archived or opened offline. Needs matplotlib, the `report` extra.
    """
    # Figures are drawn on their own Agg canvases, never through pyplot: no display, no global
    # state, and nothing changes for a host process that uses pyplot itself.
    _require_matplotlib()
    groups = _groups(report)
    clocks = _clock_names(report)
    overall = report.overall
    charts = [
        ("On-time rate per SLA clock by tier", _chart_on_time(report)),
        ("CSAT distribution", _chart_csat(report)),
        ("First response time p50 / p90 by tier", _chart_first_response(report)),
    ]
    images = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{_png(fig)}">'
        f"</figure>"
        for title, fig in charts
    )
    target = (
        "no ratings"
        if overall.csat_target_met is None
        else f"{fmt_rate(overall.satisfied_share)}, target {fmt_target(overall.csat_target_met)}"
    )
    summary = _html_table(SUMMARY_HEADERS, [_summary_row(label, g) for label, g in groups], True)
    clock_table = _html_table(
        ["group", *clocks],
        [[label, *(_fmt_clock(g.clocks.get(c)) for c in clocks)] for label, g in groups],
        True,
    )
    csat_table = _html_table(
        ["group", *(str(r) for r in RATINGS), "rated"],
        [[label, *(str(g.csat_distribution.get(r, 0)) for r in RATINGS), str(g.rated)]
         for label, g in groups],
        True,
    )
    definitions = "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in DEFINITIONS
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<title>After-sales service report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>After-sales service report</h1>"
        f'<p class="meta">{html.escape(_period_text(report))}</p>'
        f'<p class="meta">generated {html.escape(report.generated_at.isoformat(" ", "seconds"))}'
        f" &middot; {overall.cases} cases &middot; CSAT satisfied share {html.escape(target)}</p>"
        f'<h2>Charts</h2><div class="charts">{images}</div>'
        f"<h2>Summary</h2>{summary}"
        f"<h2>On-time rate per SLA clock (on time / decided)</h2>{clock_table}"
        f"<h2>CSAT distribution (number of ratings)</h2>{csat_table}"
        f"<h2>Definitions</h2><dl>{definitions}</dl>"
        "</body></html>\n"
    )


RENDERERS = {"text": render_text, "json": render_json, "html": render_html}


# ---------------------------------------------------------------------------------------------
# CLI glue


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
    # Imported here: starter.cli imports this module to register the command.
    from cases.policy import load_policy
    from runtime.errors import ServiceError, UserError

    zone = ZoneInfo(load_policy(settings.policy_path).calendar.timezone)
    try:
        since, until = parse_period(args.since, args.until, zone, datetime.now(UTC))
        if args.format == "html":
            _require_matplotlib()
    except ReportError as err:
        raise UserError(str(err)) from err

    if settings.database_url:
        report = await _report_from(settings.database_url, since, until)
    else:
        from starter.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError

        settings.home.mkdir(parents=True, exist_ok=True)
        server = EmbeddedPostgres(settings.home / "pgdata")
        already_running = server.is_running()
        try:
            dsn = server.start()
        except EmbeddedPostgresError as err:
            raise ServiceError(str(err).splitlines()[0]) from err
        try:
            report = await _report_from(dsn, since, until)
        finally:
            if not already_running:
                server.stop()

    try:
        text = RENDERERS[args.format](report)
    except ReportError as err:
        raise UserError(str(err)) from err
    if args.output is None:
        sys.stdout.write(text)
        return
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"--output {args.output}: cannot write ({err.strerror or err})") from err


async def _report_from(dsn: str, since: datetime, until: datetime) -> Report:
    from runtime.errors import ServiceError, UserError

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
