"""The report as aligned plain-text tables, for a terminal or an e-mail, and as JSON.

A header (period, generation time, the overall CSAT share against its target), then six tables
(summary, the worst merchants, on-time rate per SLA clock, returns and inspections, routing, CSAT
distribution) and the definitions of every column. The merchant table shows the `merchants`
worst and says how many more there are (reports/service/merchants.py). A period with buyers'
requests or delivered returns also has the merchant-duties table after the merchant table, cut to
the same number (reports/service/duty_table.py), and its columns' definitions; a period in which
the platform stepped in, or its ledger moved, has the interventions table next, cut alike
(reports/service/intervention_table.py), and its definitions too. The first column
of each table is a left-aligned label; every other column holds a number and aligns right, so
the lines of one table are all the same width.

The JSON is the `Report` model as pydantic dumps it, counts and derived rates alike, every
merchant included: it validates back into a `Report` (`Report.model_validate_json`), so another
tool can read a saved report without knowing how its figures were computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from reports.service.duty_table import DUTY_HEADING, DUTY_RANKED_BY, definitions, duty_rows
from reports.service.figures import CSAT_TARGET, Report
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


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines of a table, shared with the what-if's page (reports/whatif/render.py)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        # The first column is a label; every other column holds a number and aligns right.
        numbers = zip(cells[1:], widths[1:], strict=True)
        parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in numbers]
        return "  ".join(parts).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def merchant_lines(
    total: int,
    shown: int,
    table: MerchantTable,
    ranked_by: str = "breach rate",
    heading: str = "By merchant",
) -> list[str]:
    """A table of `total` merchants with its heading and, when it left merchants out, how many;
    nothing without merchants. Shared with the merchant-duties table and the what-if's page."""
    if not total:
        return []
    headers, rows, left_out = table
    more = more_text(left_out)
    return [
        "",
        merchant_title(total, shown, ranked_by, heading),
        *text_table(headers, rows),
        *([more] if more else []),
    ]


def render_text(report: Report, merchants: int = DEFAULT_SHOWN) -> str:
    """The report as aligned plain-text tables, for a terminal or an e-mail; the merchant,
    merchant-duties and interventions tables show the `merchants` worst."""
    duty_merchants = len(report.merchant_duties.by_merchant)
    lines = [
        "After-sales service report",
        period_text(report),
        f"generated {report.generated_at.isoformat(' ', 'seconds')}",
        f"CSAT target: satisfied share >= {CSAT_TARGET:.0%} -> " + target_text(report, ""),
        "",
        *text_table(SUMMARY_HEADERS, [summary_row(label, g) for label, g in groups(report)]),
        *merchant_lines(len(report.by_merchant), merchants, merchant_rows(report, merchants)),
        *merchant_lines(
            duty_merchants, merchants, duty_rows(report, merchants), DUTY_RANKED_BY, DUTY_HEADING
        ),
        *merchant_lines(
            intervention_total(report), merchants, intervention_rows(report, merchants),
            INTERVENTION_RANKED_BY, INTERVENTION_HEADING,
        ),
        "",
        "On-time rate per SLA clock (on time / decided)",
        *text_table(*clock_rows(report)),
        "",
        "Returns and inspections (lapsed / returns, failed / inspections)",
        *text_table(*return_rows(report)),
        "",
        ROUTING_TITLE,
        *text_table(*routing_rows(report)),
        "",
        "CSAT distribution (number of ratings)",
        *text_table(*csat_rows(report)),
        "",
        "Definitions",
        *(
            f"  {name}: {text}"
            for name, text in definitions(report) + intervention_definitions(report)
        ),
    ]
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"
