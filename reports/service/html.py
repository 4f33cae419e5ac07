"""The report as one self-contained HTML page: the three charts of `charts` and the tables.

Nothing is fetched from anywhere (no scripts, fonts, styles or images by URL): the style sheet is
inline and the charts are embedded as base64 PNG, so the file can be mailed, archived or opened
offline. The tables and definitions are those of the text report, from `formatting`,
`merchants`, `duty_table` and `intervention_table`; every cell is HTML-escaped, and "met" /
"missed" cells are coloured.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from reports.service.charts import CHARTS, png_base64, require_matplotlib
from reports.service.duty_table import DUTY_HEADING, DUTY_RANKED_BY, definitions, duty_rows
from reports.service.figures import Report
from reports.service.formatting import (
    ROUTING_TITLE,
    SUMMARY_HEADERS,
    clock_rows,
    csat_rows,
    groups,
    period_text,
    return_rows,
    routing_rows,
    summary_row,
    target_text,
)
from reports.service.intervention_table import (
    INTERVENTION_HEADING,
    INTERVENTION_RANKED_BY,
    intervention_definitions,
    intervention_rows,
    intervention_total,
)
from reports.service.merchants import (
    DEFAULT_SHOWN,
    MerchantTable,
    merchant_rows,
    merchant_title,
    more_text,
)

CSS = """
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


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], first_is_all: bool) -> str:
    """An escaped table, shared with the what-if's page (reports/whatif/html.py)."""
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


def merchant_section(
    total: int,
    shown: int,
    table: MerchantTable,
    ranked_by: str = "breach rate",
    heading: str = "By merchant",
    first_is_all: bool = False,
) -> str:
    """The heading, table of `total` merchants and how many it left out; nothing without
    merchants. Shared with the merchant-duties table and the what-if's page."""
    if not total:
        return ""
    headers, rows, left_out = table
    more = more_text(left_out)
    return (
        f"<h2>{html.escape(merchant_title(total, shown, ranked_by, heading))}</h2>"
        f"{html_table(headers, rows, first_is_all)}"
        + (f'<p class="meta">{html.escape(more)}</p>' if more else "")
    )


def render_html(report: Report, merchants: int = DEFAULT_SHOWN) -> str:
    """A self-contained HTML page: tables and three charts embedded as base64 PNG; the merchant,
    merchant-duties and interventions tables show the `merchants` worst.

    Nothing is fetched from anywhere (no scripts, fonts, styles or images by URL), so the file
    can be mailed, archived or opened offline. Needs matplotlib, the `report` extra.
    """
    require_matplotlib()
    charts = [(title, draw(report)) for title, draw in CHARTS]
    images = "".join(
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{png_base64(fig)}">'
        f"</figure>"
        for title, fig in charts
    )
    summary = html_table(
        SUMMARY_HEADERS, [summary_row(label, g) for label, g in groups(report)], True
    )
    clock_table = html_table(*clock_rows(report), True)
    return_table = html_table(*return_rows(report), True)
    routing_table = html_table(*routing_rows(report), True)
    csat_table = html_table(*csat_rows(report), True)
    duty_section = merchant_section(
        len(report.merchant_duties.by_merchant), merchants, duty_rows(report, merchants),
        DUTY_RANKED_BY, DUTY_HEADING, first_is_all=True,
    )
    intervention_section = merchant_section(
        intervention_total(report), merchants, intervention_rows(report, merchants),
        INTERVENTION_RANKED_BY, INTERVENTION_HEADING, first_is_all=True,
    )
    definitions_list = "".join(
        f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>"
        for name, text in definitions(report) + intervention_definitions(report)
    )
    target = target_text(report, "target ")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        "<title>After-sales service report</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>After-sales service report</h1>"
        f'<p class="meta">{html.escape(period_text(report))}</p>'
        f'<p class="meta">generated {html.escape(report.generated_at.isoformat(" ", "seconds"))}'
        f" &middot; {report.overall.cases} cases &middot; CSAT satisfied share "
        f"{html.escape(target)}</p>"
        f'<h2>Charts</h2><div class="charts">{images}</div>'
        f"<h2>Summary</h2>{summary}"
        f"{merchant_section(len(report.by_merchant), merchants, merchant_rows(report, merchants))}"
        f"{duty_section}"
        f"{intervention_section}"
        f"<h2>On-time rate per SLA clock (on time / decided)</h2>{clock_table}"
        "<h2>Returns and inspections (lapsed / returns, failed / inspections)</h2>"
        f"{return_table}"
        f"<h2>{html.escape(ROUTING_TITLE)}</h2>{routing_table}"
        f"<h2>CSAT distribution (number of ratings)</h2>{csat_table}"
        f"<h2>Definitions</h2><dl>{definitions_list}</dl>"
        "</body></html>\n"
    )
