"""The merchant-duties table's order, on figures made by hand: the highest silence share first,
then more deadlines decided, then the lower merchant id, and a merchant with no deadline decided
last; and a report saved before the duties were counted still reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from reports.service.duties import DutyFigures, MerchantDuties, assemble_duties
from reports.service.duty_table import DUTY_DEFINITIONS, DUTY_HEADERS, definitions, duty_rows
from reports.service.figures import GroupFigures, Report
from reports.service.formatting import DEFINITIONS

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 2, 1, tzinfo=UTC)


def merchant(answers: tuple[int, int, int], returns: tuple[int, int] = (0, 0)) -> DutyFigures:
    """(answer deadlines decided, answered on time, agreed by silence), then (delivered returns
    decided, refunded by silence); one request per answer deadline, one waiting besides."""
    decided, on_time, agreed = answers
    return DutyFigures(
        requests=decided + 1, answers_decided=decided, answered_on_time=on_time,
        agreed_by_silence=agreed, delivered_returns_decided=returns[0],
        refunded_by_silence=returns[1],
    )


# Silence share = (agreed + refunded) / (answers decided + returns decided):
#   acme  1 of 4 answers agreed, 1 of 2 returns refunded  -> 2/6 = 33.3 %, 6 decided
#   bolt  1 of 3 answers agreed                            -> 1/3 = 33.3 %, 3 decided
#   cato  2 of 2 returns refunded                          -> 2/2 = 100 %,  2 decided
#   dune  1 of 3 agreed                                    -> 1/3 = 33.3 %, 3 decided
#   echo  its one request still waits                      -> no share
#   fern  2 of 2 answered on time                          -> 0/2 = 0 %
# Worst first: cato; acme, then bolt and dune (33.3 %: acme decided more, bolt's id is lower than
# dune's); fern; echo, whose waiting request is no evidence either way, last.
DUTIES = {
    "fern": merchant((2, 2, 0)),
    "echo": merchant((0, 0, 0)),
    "dune": merchant((3, 2, 1)),
    "cato": merchant((0, 0, 0), (2, 2)),
    "bolt": merchant((3, 2, 1)),
    "acme": merchant((4, 3, 1), (2, 1)),
}
WORST_FIRST = ["cato", "acme", "bolt", "dune", "fern", "echo"]


def report(duties: dict[str, DutyFigures]) -> Report:
    overall = DutyFigures(**{
        field: sum(getattr(d, field) for d in duties.values()) for field in DutyFigures.model_fields
    })
    return Report(
        since=SINCE, until=UNTIL, generated_at=UNTIL, overall=GroupFigures(), by_tier={},
        by_category={}, merchant_duties=MerchantDuties(overall=overall, by_merchant=duties),
    )


def test_the_worst_silence_share_comes_first_under_the_platform_row() -> None:
    headers, rows, left_out = duty_rows(report(DUTIES), 10)
    assert headers == list(DUTY_HEADERS)
    assert [row[0] for row in rows] == ["all merchants", *WORST_FIRST]
    assert left_out == 0
    # The platform: 12 answers decided (+ 6 waiting), 9 on time, 3 agreed; 4 returns, 3 refunded.
    assert rows[0] == ["all merchants", "18", "75.0% (9/12)", "25.0% (3/12)", "75.0% (3/4)", "0",
                       "37.5% (6/16)"]
    assert rows[-1] == ["echo", "1", "- (0/0)", "- (0/0)", "- (0/0)", "0", "- (0/0)"]

    _, rows, left_out = duty_rows(report(DUTIES), 2)
    assert [row[0] for row in rows] == ["all merchants", "cato", "acme"]
    assert left_out == 4


def test_the_duty_legends_appear_only_with_duties() -> None:
    assert definitions(report(DUTIES)) == DEFINITIONS + DUTY_DEFINITIONS
    assert definitions(report({})) == DEFINITIONS
    # One legend per figure column, each named as its column is.
    assert [name for name, _ in DUTY_DEFINITIONS] == list(DUTY_HEADERS[1:])


def test_assembly_splits_the_platform_from_the_merchants() -> None:
    fields = dict.fromkeys(DutyFigures.model_fields, 0)
    rows = [
        {"dimension": "merchant", "grp": "south", **fields, "requests": 2, "answers_decided": 1},
        {"dimension": "all", "grp": "all", **fields, "requests": 3, "answers_decided": 1},
        # A merchant whose id is "all" is still a merchant.
        {"dimension": "merchant", "grp": "all", **fields, "requests": 1},
    ]
    duties = assemble_duties(rows)
    assert (duties.overall.requests, duties.overall.answers_decided) == (3, 1)
    assert list(duties.by_merchant) == ["all", "south"]
    assert assemble_duties([]) == MerchantDuties()


def test_a_report_saved_before_the_duties_still_reads() -> None:
    data = json.loads(report(DUTIES).model_dump_json())
    del data["merchant_duties"]
    old = Report.model_validate(data)
    assert old.merchant_duties == MerchantDuties()
    assert old.merchant_duties.overall.silence_rate is None
