"""The interventions table of the text and HTML pages, and the legends of its columns.

One row for the whole platform, then the merchants whose buyers most often took a request to the
platform, ranked by `merchants.worst` as the by-merchant and merchant-duties tables are and cut to
the same `--merchants N`. Worst is the highest intervention rate (cases with a buyer's request on
which the platform was asked to step in, over cases with a buyer's request); ties go to the
merchant with more requests, then to the lower merchant id, and a merchant without a request
comes last. A period with no intervention on its cases and no ledger row dated in it has no table
and no legends for it, so a platform that never steps in reads as it did before.
"""

from __future__ import annotations

from reports.service.figures import Report
from reports.service.formatting import fmt_share
from reports.service.interventions import InterventionFigures, LedgerAmounts
from reports.service.merchants import MerchantTable, worst

INTERVENTION_HEADING = "Interventions"
INTERVENTION_RANKED_BY = "intervention rate"
PLATFORM_ROW = "all merchants"
INTERVENTION_HEADERS = (
    "merchant", "requested", "intervention rate", "ruled against", "ruled for", "not carried out",
    "paid first", "settled", "owed", "holds open",
)
INTERVENTION_DEFINITIONS = (
    ("requested", "interventions: cases opened in the period with a buyer's request for a remedy; "
     "all merchants is the whole platform"),
    ("intervention rate", "平台介入率: cases with a buyer's request on which the platform was "
     "asked to step in (by the buyer, the merchant or the platform itself), over cases with a "
     "buyer's request, never over all cases; the worst comes first, then the merchant with more "
     "requests, then the lower merchant id"),
    ("ruled against", "rulings against the merchant (refund, return and refund, exchange or "
     "repair); a case ruled again on appeal counts both rulings"),
    ("ruled for", "rulings for the merchant (the buyer's request rejected); every ruling counts, "
     "an appeal's too"),
    ("not carried out", "rulings against the merchant it did not carry out by its deadline (its "
     "carry-out clock breached), so the platform paid the buyer first or its staff took over"),
    ("paid first", "what the platform paid buyers on the merchant's behalf, from the merchant "
     "ledger's rows dated in the period whatever period their case opened in, per currency"),
    ("settled", "what the merchant paid the platform back, from the ledger's rows dated in the "
     "period, per currency"),
    ("owed", "recoveries the period's payouts opened less the period's settlements, from the "
     "ledger's rows dated in the period; below zero when an earlier payout was settled in it"),
    ("holds open", "orders whose settlement to the merchant was still held for an intervention "
     "at the end of the period, whenever the hold began"),
)


def has_interventions(report: Report) -> bool:
    """Whether the period's cases had an intervention, or the ledger a row dated in the period,
    and so the page an interventions table."""
    overall = report.interventions.overall
    return overall.intervened_cases > 0 or bool(overall.ledger)


def intervention_total(report: Report) -> int:
    """How many merchants the interventions table ranks: none when the page has no table, so the
    renderers' `merchant_lines` and `merchant_section` leave it out."""
    return len(report.interventions.by_merchant) if has_interventions(report) else 0


def intervention_definitions(report: Report) -> tuple[tuple[str, str], ...]:
    """The legends of the interventions columns, only beside their table."""
    return INTERVENTION_DEFINITIONS if has_interventions(report) else ()


def fmt_amounts(ledger: dict[str, LedgerAmounts], amount: str) -> str:
    """One ledger amount per currency, e.g. "300.00 CNY"; currencies are never added together,
    so two read "300.00 CNY + 20.00 USD"; "-" without a ledger row in the period."""
    if not ledger:
        return "-"
    return " + ".join(f"{getattr(a, amount):.2f} {currency}" for currency, a in ledger.items())


def _rank(figures: InterventionFigures) -> tuple[float | None, int]:
    return figures.intervention_rate, figures.requested_cases


def _row(label: str, f: InterventionFigures) -> list[str]:
    return [
        label,
        str(f.requested_cases),
        fmt_share(f.intervention_rate, f.intervened_cases, f.requested_cases),
        str(f.ruled_against),
        str(f.ruled_for),
        str(f.not_carried_out),
        fmt_amounts(f.ledger, "platform_payouts"),
        fmt_amounts(f.ledger, "settled"),
        fmt_amounts(f.ledger, "owed"),
        str(f.open_holds),
    ]


def intervention_rows(report: Report, shown: int) -> MerchantTable:
    """Headers and rows of the interventions table: the platform, then the `shown` worst
    merchants; and how many merchants it left out. The rate reads with the counts it was taken
    of, as in the other merchant tables."""
    interventions = report.interventions
    kept, left_out = worst(interventions.by_merchant, _rank, shown)
    rows = [_row(PLATFORM_ROW, interventions.overall), *(_row(m, f) for m, f in kept)]
    return list(INTERVENTION_HEADERS), rows, left_out
