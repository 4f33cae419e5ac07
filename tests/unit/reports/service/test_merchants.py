"""The by-merchant table's order and truncation, on figures made by hand: the worst breach rate
first, then more cases, then the lower merchant id; the pages show N, the JSON keeps them all."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from reports.service.command import add_report_parser
from reports.service.figures import ClockFigures, GroupFigures, Report
from reports.service.merchants import merchant_rows, merchant_title, more_text, worst
from reports.service.render import render_json, render_text

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 2, 1, tzinfo=UTC)


def merchant(cases: int, **clocks: tuple[int, int]) -> GroupFigures:
    """A merchant's figures: its case count and, per clock, (decided, on time)."""
    return GroupFigures(
        cases=cases,
        clocks={name: ClockFigures(decided=d, on_time=o) for name, (d, o) in clocks.items()},
    )


# Breach rate = (decided - on time) / decided, summed over every clock of the merchant:
#   acme  first response 4 decided, 3 on time                      -> 1/4 = 25 %, 5 cases
#   bolt  first response 4, 2                                      -> 2/4 = 50 %, 2 cases
#   cato  first response 5, 4 + resolution 3, 2 = 8 decided, 6     -> 2/8 = 25 %, 5 cases
#   dune  resolution 2, 1                                          -> 1/2 = 50 %, 3 cases
#   echo  no clock decided                                         -> no rate,    9 cases
#   fern  first response 3, 3                                      -> 0/3 = 0 %,  1 case
# Worst first: dune and bolt (50 %; dune has more cases), acme and cato (25 %, 5 cases each;
# acme's id is lower), fern (0 %), and echo last: no rate is no evidence of breaching, so even
# its 9 cases do not lift it above a merchant with a rate.
MERCHANTS = {
    "fern": merchant(1, first_response=(3, 3)),
    "echo": merchant(9),
    "cato": merchant(5, first_response=(5, 4), resolution=(3, 2)),
    "bolt": merchant(2, first_response=(4, 2)),
    "acme": merchant(5, first_response=(4, 3)),
    "dune": merchant(3, resolution=(2, 1)),
}
WORST_FIRST = ["dune", "bolt", "acme", "cato", "fern", "echo"]


def _rank(g: GroupFigures) -> tuple[float | None, int]:
    return g.breach_rate, g.cases


def test_breach_rate_adds_every_clock() -> None:
    cato = MERCHANTS["cato"]
    assert (cato.clocks_decided, cato.clocks_breached) == (8, 2)
    assert cato.breach_rate == 2 / 8
    assert MERCHANTS["echo"].breach_rate is None
    assert MERCHANTS["fern"].breach_rate == 0.0


def test_worst_orders_by_rate_then_cases_then_id() -> None:
    kept, left_out = worst(MERCHANTS, _rank, 10)
    assert [name for name, _ in kept] == WORST_FIRST
    assert left_out == 0


@pytest.mark.parametrize("shown", [1, 2, 3, 5, 6])
def test_worst_keeps_the_first_n_and_counts_the_rest(shown: int) -> None:
    kept, left_out = worst(MERCHANTS, _rank, shown)
    assert [name for name, _ in kept] == WORST_FIRST[:shown]
    assert left_out == 6 - shown


def test_worst_of_nothing() -> None:
    assert worst({}, _rank, 20) == ([], 0)


def test_the_lines_around_the_table() -> None:
    assert merchant_title(6, 3) == "By merchant (the 3 worst of 6 by breach rate)"
    assert merchant_title(6, 6) == "By merchant (6, worst breach rate first)"
    assert more_text(0) == ""
    assert more_text(1) == "1 more merchant not shown; the JSON output holds every merchant."
    assert more_text(4) == "4 more merchants not shown; the JSON output holds every merchant."


def report() -> Report:
    return Report(since=SINCE, until=UNTIL, generated_at=UNTIL, overall=merchant(25),
                  by_tier={}, by_category={}, by_merchant=dict(sorted(MERCHANTS.items())))


def test_merchant_rows_show_the_worst_with_their_counts() -> None:
    headers, rows, left_out = merchant_rows(report(), 3)
    assert headers[:3] == ["merchant", "cases", "breached"]
    assert left_out == 3
    # dune: 1 of 2 breached, no first response clock, resolution 1 of 2 on time
    assert rows[0][:5] == ["dune", "3", "50.0% (1/2)", "-", "50.0% (1/2)"]
    assert rows[1][:4] == ["bolt", "2", "50.0% (2/4)", "50.0% (2/4)"]
    assert rows[2][:4] == ["acme", "5", "25.0% (1/4)", "75.0% (3/4)"]


def test_text_shows_n_merchants_and_says_how_many_more() -> None:
    lines = render_text(report(), merchants=3).splitlines()
    start = lines.index("By merchant (the 3 worst of 6 by breach rate)")
    table = lines[start + 1 : start + 6]  # header, rule, three rows
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    assert [line.split()[0] for line in table[2:]] == ["dune", "bolt", "acme"]
    assert lines[start + 6] == "3 more merchants not shown; the JSON output holds every merchant."
    assert not any(line.startswith(("cato", "fern", "echo")) for line in lines)

    lines = render_text(report()).splitlines()
    start = lines.index("By merchant (6, worst breach rate first)")
    assert [line.split()[0] for line in lines[start + 3 : start + 9]] == WORST_FIRST
    assert lines[start + 9] == ""  # nothing left out, so no line saying so


def test_json_keeps_every_merchant() -> None:
    data = render_json(report())
    again = Report.model_validate_json(data)
    assert list(again.by_merchant) == ["acme", "bolt", "cato", "dune", "echo", "fern"]
    assert again == report()


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aftersales")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["report", *argv])


def test_the_merchants_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse().merchants == 20
    assert parse("--merchants", "5").merchants == 5
    for bad in ("0", "-3", "many"):
        with pytest.raises(SystemExit):
            parse("--merchants", bad)
        assert "is not a positive whole number" in capsys.readouterr().err
