"""The interventions table's order and cells, on figures made by hand: the highest intervention
rate first, then more requests, then the lower merchant id, and a merchant without a request
last; amounts per currency, never added across currencies; the section and its legends only with
an intervention or a ledger row; and a report saved before the interventions were counted still
reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from reports.service.figures import GroupFigures, Report
from reports.service.intervention_table import (
    INTERVENTION_DEFINITIONS,
    INTERVENTION_HEADERS,
    fmt_amounts,
    has_interventions,
    intervention_definitions,
    intervention_rows,
    intervention_total,
)
from reports.service.interventions import (
    InterventionFigures,
    LedgerAmounts,
    MerchantInterventions,
    assemble_interventions,
)
from reports.service.render import render_text

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 2, 1, tzinfo=UTC)
CNY = {"CNY": LedgerAmounts(platform_payouts=Decimal("100.00"), recoveries=Decimal("100.00"),
                            settled=Decimal("40.00"))}


def merchant(requested: int, intervened: int, **more: Any) -> InterventionFigures:
    return InterventionFigures(requested_cases=requested, intervened_cases=intervened, **more)


# Intervention rate = intervened / requested:
#   acme  1/4 = 25 %;  bolt 2/4 = 50 %;  cato 1/2 = 50 %;  dune 2/4 = 50 %;  echo 0/3 = 0 %;
#   fern  no request (only a hold open), no rate.
# Worst first: bolt and dune (50 % over 4: bolt's id is lower), cato (50 % over 2), acme, echo,
# fern last.
INTERVENTIONS = {
    "fern": merchant(0, 0, open_holds=1),
    "echo": merchant(3, 0),
    "dune": merchant(4, 2, ruled_against=2),
    "cato": merchant(2, 1, ruled_for=1),
    "bolt": merchant(4, 2, ruled_against=1, not_carried_out=1, ledger=CNY),
    "acme": merchant(4, 1),
}
WORST_FIRST = ["bolt", "dune", "cato", "acme", "echo", "fern"]


def report(by_merchant: dict[str, InterventionFigures], overall: InterventionFigures) -> Report:
    return Report(
        since=SINCE, until=UNTIL, generated_at=UNTIL, overall=GroupFigures(), by_tier={},
        by_category={},
        interventions=MerchantInterventions(overall=overall, by_merchant=by_merchant),
    )


PLATFORM = merchant(17, 6, ruled_against=3, ruled_for=1, not_carried_out=1, open_holds=1,
                    ledger=CNY)


def test_the_worst_intervention_rate_comes_first_under_the_platform_row() -> None:
    headers, rows, left_out = intervention_rows(report(INTERVENTIONS, PLATFORM), 10)
    assert headers == list(INTERVENTION_HEADERS)
    assert [row[0] for row in rows] == ["all merchants", *WORST_FIRST]
    assert left_out == 0
    assert rows[0] == ["all merchants", "17", "35.3% (6/17)", "3", "1", "1", "100.00 CNY",
                       "40.00 CNY", "60.00 CNY", "1"]
    assert rows[1] == ["bolt", "4", "50.0% (2/4)", "1", "0", "1", "100.00 CNY", "40.00 CNY",
                       "60.00 CNY", "0"]
    assert rows[-1] == ["fern", "0", "- (0/0)", "0", "0", "0", "-", "-", "-", "1"]

    _, rows, left_out = intervention_rows(report(INTERVENTIONS, PLATFORM), 2)
    assert [row[0] for row in rows] == ["all merchants", "bolt", "dune"]
    assert left_out == 4


def test_amounts_stay_in_their_currency() -> None:
    ledger = {
        "CNY": LedgerAmounts(settled=Decimal("150.00")),
        "USD": LedgerAmounts(platform_payouts=Decimal("20.00"), recoveries=Decimal("20.00")),
    }
    assert fmt_amounts(ledger, "platform_payouts") == "0.00 CNY + 20.00 USD"
    # Settled in the period for an earlier period's payout: owed reads below zero.
    assert fmt_amounts(ledger, "owed") == "-150.00 CNY + 20.00 USD"
    assert fmt_amounts({}, "owed") == "-"


def test_the_section_and_its_legends_need_an_intervention_or_a_ledger_row() -> None:
    shown = report(INTERVENTIONS, PLATFORM)
    assert has_interventions(shown) and intervention_total(shown) == 6
    assert intervention_definitions(shown) == INTERVENTION_DEFINITIONS
    # One legend per figure column, each named as its column is.
    assert [name for name, _ in INTERVENTION_DEFINITIONS] == list(INTERVENTION_HEADERS[1:])

    # Requests, rulings and a hold, but nobody asked the platform in and no money moved.
    quiet = report({"echo": merchant(3, 0, open_holds=1)}, merchant(3, 0, open_holds=1))
    assert not has_interventions(quiet) and intervention_total(quiet) == 0
    assert intervention_definitions(quiet) == ()
    assert "Interventions" not in render_text(quiet)

    money_only = report({"fern": merchant(0, 0, ledger=CNY)}, merchant(0, 0, ledger=CNY))
    assert has_interventions(money_only) and intervention_total(money_only) == 1
    assert "Interventions (1, worst intervention rate first)" in render_text(money_only)


def test_assembly_splits_the_platform_from_the_merchants() -> None:
    counts = dict.fromkeys(
        ("requested_cases", "intervened_cases", "ruled_against", "ruled_for", "not_carried_out",
         "open_holds"), 0)
    no_ledger = {"currencies": None, "platform_payouts": None, "recoveries": None, "settled": None}
    rows: list[dict[str, Any]] = [
        {"dimension": "merchant", "grp": "south", **counts, "requested_cases": 2,
         "currencies": ["CNY", "USD"], "platform_payouts": [Decimal("5.00"), Decimal("1.00")],
         "recoveries": [Decimal("5.00"), Decimal("1.00")],
         "settled": [Decimal("0.00"), Decimal("1.00")]},
        {"dimension": "all", "grp": "all", **counts, "requested_cases": 3, **no_ledger},
        # A merchant whose id is "all" is still a merchant.
        {"dimension": "merchant", "grp": "all", **counts, "open_holds": 1, **no_ledger},
    ]
    assembled = assemble_interventions(rows)
    assert assembled.overall.requested_cases == 3 and assembled.overall.ledger == {}
    assert list(assembled.by_merchant) == ["all", "south"]
    south = assembled.by_merchant["south"]
    assert {c: a.owed for c, a in south.ledger.items()} == {
        "CNY": Decimal("5.00"), "USD": Decimal("0.00"),
    }
    assert assemble_interventions([]) == MerchantInterventions()


def test_a_report_saved_before_the_interventions_still_reads() -> None:
    data = json.loads(report(INTERVENTIONS, PLATFORM).model_dump_json())
    del data["interventions"]
    old = Report.model_validate(data)
    assert old.interventions == MerchantInterventions()
    assert old.interventions.overall.intervention_rate is None
