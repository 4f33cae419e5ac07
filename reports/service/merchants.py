"""The by-merchant table: the worst merchants first, as many as asked, and how many more.

A platform has thousands of merchants, so a page shows the `shown` worst of them and says how
many it left out, while the `Report` (and so its JSON) keeps them all. Worst is the highest
breach rate (SLA clocks breached, over clocks decided); a merchant with no clock decided has no
rate and comes after every merchant that has one. Ties go to the merchant with more cases (the
same rate over more cases weighs more), then to the lower merchant id, so the order never
depends on the order the rows arrived in. The what-if ranks its merchants with `worst` too
(reports/whatif/format.py), and so do the merchant-duties and interventions tables
(reports/service/duty_table.py, reports/service/intervention_table.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from cases.models import ClockName
from reports.service.figures import GroupFigures, Report
from reports.service.formatting import fmt_clock, fmt_duration, fmt_rate, fmt_share

DEFAULT_SHOWN = 20
T = TypeVar("T")
# A merchant's breach rate and its case count, the two things it is ranked by.
Rank = Callable[[T], tuple[float | None, int]]
# A by-merchant table: its headers, its rows, and how many merchants it left out.
MerchantTable = tuple[list[str], list[list[str]], int]


def worst(merchants: Mapping[str, T], rank: Rank[T], shown: int) -> tuple[list[tuple[str, T]], int]:
    """The `shown` worst merchants, worst first, and how many more there are."""

    def key(item: tuple[str, T]) -> tuple[bool, float, int, str]:
        merchant, figures = item
        rate, cases = rank(figures)
        return (rate is None, -(rate or 0.0), -cases, merchant)

    ranked = sorted(merchants.items(), key=key)
    kept = ranked[: max(shown, 0)]
    return kept, len(ranked) - len(kept)


def merchant_title(
    total: int, shown: int, ranked_by: str = "breach rate", heading: str = "By merchant"
) -> str:
    """The table's heading: how many merchants it ranks, and by what."""
    if total <= shown:
        return f"{heading} ({total}, worst {ranked_by} first)"
    return f"{heading} (the {shown} worst of {total} by {ranked_by})"


def more_text(left_out: int) -> str:
    """The line under a table that left merchants out; empty when it left none out."""
    if not left_out:
        return ""
    noun = "merchant" if left_out == 1 else "merchants"
    return f"{left_out} more {noun} not shown; the JSON output holds every merchant."


def _rank(g: GroupFigures) -> tuple[float | None, int]:
    return g.breach_rate, g.cases


MERCHANT_HEADERS = (
    "merchant", "cases", "breached", "first response", "resolution", "FR p50", "resolved",
    "handled", "satisfied", "escalated", "reopened",
)


def merchant_rows(report: Report, shown: int) -> MerchantTable:
    """Headers and rows of the by-merchant table, worst first, and how many merchants it left
    out. The clock columns read on time / decided, as in the on-time table."""
    kept, left_out = worst(report.by_merchant, _rank, shown)
    rows = [
        [
            merchant,
            str(g.cases),
            fmt_share(g.breach_rate, g.clocks_breached, g.clocks_decided),
            fmt_clock(g.clocks.get(ClockName.FIRST_RESPONSE.value)),
            fmt_clock(g.clocks.get(ClockName.RESOLUTION.value)),
            fmt_duration(g.first_response_p50_seconds),
            fmt_rate(g.resolution_rate),
            fmt_rate(g.complaint_handling_rate),
            fmt_rate(g.satisfied_share),
            fmt_rate(g.escalated_share),
            fmt_rate(g.reopen_rate),
        ]
        for merchant, g in kept
    ]
    return list(MERCHANT_HEADERS), rows, left_out

