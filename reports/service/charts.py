"""The HTML report's three charts, drawn with matplotlib and encoded as base64 PNG.

On-time rate per SLA clock by tier, the CSAT distribution stacked by tier, and first response
time (p50 and p90) by tier; each tier keeps one colour in every chart. matplotlib is the optional
`report` extra, so it is imported only when a chart is drawn, never at module load, and
`require_matplotlib` turns its absence into a `ReportError` naming the extra. Figures are drawn on
their own Agg canvases, never through pyplot: no display, no global state, and nothing changes for
a host process that uses pyplot itself.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

from reports.service.figures import CSAT_TARGET, RATINGS, Report, ReportError
from reports.service.formatting import clock_names, fmt_duration, fmt_mean, fmt_rate, fmt_target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_EXTRA = "report"

# One colour per tier, shared by every chart, so a tier reads the same everywhere.
TIER_COLOURS = {"urgent": "#c0392b", "complex": "#e67e22", "general": "#2e86c1"}


def require_matplotlib() -> Any:
    # An optional dependency, imported where it is needed (not to break an import cycle).
    try:
        import matplotlib
    except ImportError as err:
        raise ReportError(
            "the HTML report draws its charts with matplotlib, which is not installed; "
            f"install the `{REPORT_EXTRA}` extra: pip install 'aftersales[{REPORT_EXTRA}]'"
        ) from err
    return matplotlib


def png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    # No Software metadata: the page must not carry any URL, even inside an image.
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def chart_on_time(report: Report) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    clocks = clock_names(report)
    labels = report.clock_labels
    tiers = list(report.by_tier)
    # Three bars a clock: the figure widens with the clocks so their labels stay legible.
    figure = Figure(figsize=(max(5.6, 1.0 + 0.75 * len(clocks)), 3.4))
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
    ax.set_xticks(range(len(clocks)), [labels[c].replace(" ", "\n") for c in clocks], fontsize=8)
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_title("On-time rate per SLA clock, by tier")
    ax.legend(loc="upper center", ncol=len(tiers), fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


def chart_csat(report: Report) -> Figure:
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
        f"CSAT distribution: mean {fmt_mean(overall.csat_mean)}\nsatisfied {share} "
        f"(target {CSAT_TARGET:.0%}: {fmt_target(overall.csat_target_met)})",
        fontsize=11,
    )
    ax.set_xlabel("rating (5 = best)")
    ax.set_ylabel("ratings")
    ax.set_ylim(0, max(max(bottoms), 1) * 1.2)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


def chart_first_response(report: Report) -> Figure:
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


# In the order the page shows them, each with its alt text.
CHARTS = (
    ("On-time rate per SLA clock by tier", chart_on_time),
    ("CSAT distribution", chart_csat),
    ("First response time p50 / p90 by tier", chart_first_response),
)
