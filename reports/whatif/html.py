"""The what-if as one self-contained HTML page: two charts and the tables of the text page.

Like the service report's page (reports/service/html.py), nothing is fetched from anywhere: its
style sheet, cell escaping and PNG encoding are reused from there and from `reports/service/charts.py`,
and each tier keeps the colour it has in the service report. In every chart the recorded figure
is the light bar and the candidate's the dark one.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from reports.service.charts import TIER_COLOURS, png_base64, require_matplotlib
from reports.service.html import CSS, html_table, merchant_section
from reports.service.merchants import DEFAULT_SHOWN
from reports.whatif.figures import SideFigures, WhatIf
from reports.whatif.format import (
    DEFINITIONS,
    RANKED_BY,
    breach_rows,
    caveat_lines,
    examples,
    headline,
    merchant_rows,
    on_time_rows,
    period_text,
    summary_rows,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SIDES = (("actual", 0.45), ("candidate", 1.0))


def chart_on_time(report: WhatIf) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    clocks = list(report.clock_labels)
    tiers = list(report.by_tier)
    bars = len(tiers) * 2
    figure = Figure(figsize=(max(6.0, 1.2 + 1.1 * len(clocks)), 3.6))
    ax = figure.subplots()
    width = 0.84 / max(bars, 1)
    for i, tier in enumerate(tiers):
        for j, (side, alpha) in enumerate(_SIDES):
            k = 2 * i + j
            xs = [c + (k - (bars - 1) / 2) * width for c in range(len(clocks))]
            figures: SideFigures = getattr(report.by_tier[tier], side)
            rates = [figures.clocks.get(n) for n in clocks]
            heights = [(r.on_time_rate or 0.0) * 100 if r else 0.0 for r in rates]
            drawn = ax.bar(xs, heights, width, color=TIER_COLOURS.get(tier), alpha=alpha,
                           label=f"{tier} {side}", edgecolor="#333333", linewidth=0.3)
            for bar, r in zip(drawn, rates, strict=True):
                # No clock decided is no rate, not 0 %: said so on the empty bar, as in the
                # service report's chart.
                if r is None or r.on_time_rate is None:
                    ax.annotate("n/a", (bar.get_x() + bar.get_width() / 2, 0), ha="center",
                                va="bottom", fontsize=5, rotation=90, xytext=(0, 2),
                                textcoords="offset points")
    ax.set_xticks(range(len(clocks)), [report.clock_labels[c].replace(" ", "\n") for c in clocks],
                  fontsize=8)
    ax.set_ylim(0, 130)
    ax.set_yticks(range(0, 101, 20))
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_title("On-time rate per SLA clock, by tier (light: actual, dark: candidate)", fontsize=10)
    ax.legend(loc="upper center", ncol=len(tiers), fontsize=7, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


def chart_counts(report: WhatIf) -> Figure:
    from matplotlib.figure import Figure

    measures = (("breaches", "breaches"), ("escalations", "escalations"),
                ("approvals needed", "approvals_needed"))
    tiers = list(report.by_tier)
    figure = Figure(figsize=(6.0, 3.6))
    ax = figure.subplots()
    width = 0.8 / (len(tiers) * 2)
    top = 1
    for i, tier in enumerate(tiers):
        for j, (side, alpha) in enumerate(_SIDES):
            k = 2 * i + j
            figures: SideFigures = getattr(report.by_tier[tier], side)
            values = [getattr(figures, attr) for _, attr in measures]
            top = max(top, *values)
            xs = [m + (k - (len(tiers) * 2 - 1) / 2) * width for m in range(len(measures))]
            drawn = ax.bar(xs, values, width, color=TIER_COLOURS.get(tier), alpha=alpha,
                           edgecolor="#333333", linewidth=0.3, label=f"{tier} {side}")
            for bar, v in zip(drawn, values, strict=True):
                ax.annotate(str(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=6, xytext=(0, 1),
                            textcoords="offset points")
    ax.set_xticks(range(len(measures)), [label for label, _ in measures])
    ax.set_ylim(0, top * 1.3)
    ax.set_title("Breaches, escalations and approvals by tier (light: actual, dark: candidate)",
                 fontsize=10)
    ax.legend(loc="upper left", ncol=len(tiers), fontsize=7, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return figure


CHARTS = (
    ("On-time rate per SLA clock by tier, actual and candidate", chart_on_time),
    ("Breaches, escalations and approvals needed by tier, actual and candidate", chart_counts),
)


def render_html(report: WhatIf, merchants: int = DEFAULT_SHOWN) -> str:
    """A self-contained page; needs matplotlib, the `report` extra. The merchant table shows the
    `merchants` worst."""
    require_matplotlib()
    images = "".join(
        f'<figure><img alt="{html.escape(title)}" '
        f'src="data:image/png;base64,{png_base64(draw(report))}"></figure>'
        for title, draw in CHARTS
    )
    caveats = "".join(f"<li>{html.escape(line)}</li>" for line in caveat_lines(report.counts))
    shown = "".join(f"<li><code>{html.escape(e)}</code></li>" for e in examples(report.counts))
    definitions = "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in DEFINITIONS
    )
    by_merchant = merchant_section(len(report.by_merchant), merchants,
                                   merchant_rows(report, merchants), RANKED_BY)
    title = "What if: the recorded cases under a candidate policy"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">{html.escape(period_text(report))}</p>'
        f'<p class="meta">{html.escape(headline(report))}; each cell reads actual -&gt; candidate</p>'
        f'<h2>Charts</h2><div class="charts">{images}</div>'
        f"<h2>Summary</h2>{html_table(*summary_rows(report), True)}"
        f"{by_merchant}"
        "<h2>On-time rate per SLA clock (on time / decided)</h2>"
        f"{html_table(*on_time_rows(report), True)}"
        f"<h2>Breaches per SLA clock</h2>{html_table(*breach_rows(report), True)}"
        f"<h2>What the replay could not follow</h2><ul>{caveats}</ul>"
        + (f"<p>Where the first cases part from their record:</p><ul>{shown}</ul>" if shown else "")
        + f"<h2>Definitions</h2><dl>{definitions}</dl>"
        "</body></html>\n"
    )
