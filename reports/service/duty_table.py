"""The merchant-duties table of the text and HTML pages, and the legends of its columns.

One row for the whole platform, then the worst merchants at their duties to the buyer, ranked by
`merchants.worst` as the by-merchant table is and cut to the same `--merchants N`. Worst is the
highest silence share: requests agreed and delivered returns refunded because the merchant let
its deadline pass, over the deadlines decided; ties go to the merchant with more deadlines
decided, then to the lower merchant id. A period without a buyer's request or a delivered return
has no table and no legends for it, so a platform that takes no requests reads as it did before
them.
"""

from __future__ import annotations

from reports.service.duties import DutyFigures
from reports.service.figures import Report
from reports.service.formatting import DEFINITIONS, fmt_share
from reports.service.merchants import MerchantTable, worst

DUTY_HEADING = "Merchant duties"
DUTY_RANKED_BY = "silence share"
PLATFORM_ROW = "all merchants"
DUTY_HEADERS = (
    "merchant", "requests", "answered on time", "auto-agreed", "auto-refunded",
    "refused rejections", "silence share",
)
DUTY_DEFINITIONS = (
    ("requests", "merchant duties: buyers' requests to the merchant for a remedy (refund, return, "
     "exchange or repair); all merchants is the whole platform"),
    ("answered on time", "requests the merchant answered by hand (agreed or rejected) before its "
     "answer deadline, over requests whose deadline was decided (answered, or agreed by silence); "
     "requests still waiting have no verdict yet"),
    ("auto-agreed", "requests agreed because the merchant did not answer by its deadline, over "
     "requests whose answer deadline was decided"),
    ("auto-refunded", "delivered returns the merchant neither refunded nor failed at inspection "
     "by its deadline, so the goods passed and the buyer was refunded, over delivered returns "
     "whose deadline was decided"),
    ("refused rejections", "rejections the engine refused because the law entitles the buyer to "
     "the remedy asked for; the request stayed open"),
    ("silence share", "auto-agreed requests and auto-refunded returns, over answer and "
     "delivered-return deadlines decided; the worst comes first, then the merchant with more "
     "deadlines decided, then the lower merchant id"),
)


def has_duties(report: Report) -> bool:
    """Whether the period had a request or a delivered return, and so a merchant-duties table."""
    return bool(report.merchant_duties.by_merchant)


def definitions(report: Report) -> tuple[tuple[str, str], ...]:
    """The legends of the tables the page shows: the duty columns' only beside their table."""
    return DEFINITIONS + DUTY_DEFINITIONS if has_duties(report) else DEFINITIONS


def _rank(duties: DutyFigures) -> tuple[float | None, int]:
    return duties.silence_rate, duties.duties_decided


def _row(label: str, d: DutyFigures) -> list[str]:
    return [
        label,
        str(d.requests),
        fmt_share(d.on_time_answer_rate, d.answered_on_time, d.answers_decided),
        fmt_share(d.auto_agreed_rate, d.agreed_by_silence, d.answers_decided),
        fmt_share(d.auto_refunded_rate, d.refunded_by_silence, d.delivered_returns_decided),
        str(d.rejections_refused),
        fmt_share(d.silence_rate, d.decided_by_silence, d.duties_decided),
    ]


def duty_rows(report: Report, shown: int) -> MerchantTable:
    """Headers and rows of the merchant-duties table: the platform, then the `shown` worst
    merchants; and how many merchants it left out. Each rate reads with the counts it was taken
    of, as in the by-merchant table."""
    duties = report.merchant_duties
    kept, left_out = worst(duties.by_merchant, _rank, shown)
    rows = [_row(PLATFORM_ROW, duties.overall), *(_row(merchant, d) for merchant, d in kept)]
    return list(DUTY_HEADERS), rows, left_out
