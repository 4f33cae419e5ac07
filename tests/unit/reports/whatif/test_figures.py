"""The what-if's figures and pages from hand-made audit events: every count is worked out in
the comments next to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reports.whatif.figures import Tally, WhatIf, merge, side_figures
from reports.whatif.format import change
from reports.whatif.html import chart_on_time, render_html
from reports.whatif.render import render_json, render_text

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 4, 1, tzinfo=UTC)


def met(clock: str, on_time: bool = True) -> tuple[str, dict[str, Any]]:
    return "clock_met", {"clock": clock, "on_time": on_time}


def breached(clock: str) -> tuple[str, dict[str, Any]]:
    return "clock_breached", {"clock": clock}


ESCALATED = ("escalated", {"reason": "x"})
NEEDS_APPROVAL = ("resolution_proposed", {"needs_approval": True})
NO_APPROVAL = ("resolution_proposed", {"needs_approval": False})

# Case A: first response met on time, one proposal needing approval.
CASE_A = [met("first_response"), NEEDS_APPROVAL, met("approval")]
# Case B: first response breached (and escalated), then met late; a second proposal needs none.
CASE_B = [("clock_warning", {"clock": "first_response"}), breached("first_response"), ESCALATED,
          met("first_response", on_time=False), NO_APPROVAL]


def test_side_figures_count_verdicts_breaches_escalations_and_approvals() -> None:
    side = side_figures([CASE_A, CASE_B])
    fr = side.clocks["first_response"]
    # decided: A's on-time meeting + B's breach (its late meeting decides nothing more) = 2
    assert (fr.decided, fr.on_time, fr.breached, fr.warned) == (2, 1, 1, 1)
    assert fr.on_time_rate == 0.5
    assert side.clocks["approval"].on_time == 1
    assert list(side.clocks) == ["first_response", "approval"]  # domain order
    assert (side.cases, side.breaches, side.escalations, side.escalated_cases) == (2, 1, 1, 1)
    assert (side.approvals_needed, side.cases_needing_approval) == (1, 1)
    assert side.escalated_share == 0.5


def _report() -> WhatIf:
    tally = Tally(WhatIf(since=SINCE, until=UNTIL, generated_at=UNTIL, policy="tight.toml"))
    # A general case the candidate breaches; an urgent one it leaves as it was.
    tally.add(("general", CASE_A), ("general", [breached("first_response"), ESCALATED, NEEDS_APPROVAL]))
    tally.add(("urgent", CASE_B), ("urgent", CASE_B))
    tally.counts(actions=7, refused={"confirm": 1}, after_deadline=2, results_skipped=1,
                 unmapped={}, differences=["c1: event 4 differs"])
    tally.counts(actions=5, refused={}, after_deadline=0, results_skipped=0,
                 unmapped={"legacy_note": 2}, differences=[], amended=True)
    return tally.finish(2.0)


def test_tally_keeps_both_sides_by_tier_and_the_caveats() -> None:
    r = _report()
    assert r.overall.actual.breaches == 1 and r.overall.candidate.breaches == 2
    assert r.by_tier["general"].candidate.clocks["first_response"].breached == 1
    assert r.by_tier["general"].actual.clocks["first_response"].on_time == 1
    assert r.by_tier["complex"].actual.cases == 0  # every tier is listed
    c = r.counts
    assert (c.actions, c.refused, c.after_deadline, c.results_skipped, c.changed_cases) == (12, 1, 2, 1, 1)
    assert c.refused_by_action == {"confirm": 1} and c.unmapped_events == {"legacy_note": 2}
    assert c.amended_cases == 1
    assert c.examples == ["c1: event 4 differs"]


def test_merged_parts_equal_one_tally() -> None:
    whole = _report()
    merged = merge([whole, whole], 3.0)
    assert merged.overall.candidate.breaches == 2 * whole.overall.candidate.breaches
    assert merged.counts.actions == 24 and merged.counts.refused_by_action == {"confirm": 2}
    fr = merged.by_tier["urgent"].actual.clocks["first_response"]
    assert (fr.decided, fr.on_time, fr.breached) == (2, 0, 2)
    assert merged.seconds == 3.0


@pytest.mark.parametrize(("before", "after", "text"), [(1, 3, "1 -> 3 (+2)"), (4, 4, "4 -> 4"), (2, 0, "2 -> 0 (-2)")])
def test_change_cells(before: int, after: int, text: str) -> None:
    assert change(before, after) == text


def test_text_and_json_pages() -> None:
    r = _report()
    text = render_text(r)
    lines = text.splitlines()
    summary = next(line for line in lines if line.startswith("all cases"))
    assert "2 -> 2" in summary and "1 -> 2 (+1)" in summary  # cases; breaches
    on_time = lines.index("On-time rate per SLA clock (on time / decided)")
    fr_rates = next(line for line in lines[on_time:] if line.startswith("tier general"))
    assert "100.0% (1/1) -> 0.0% (0/1)" in fr_rates
    assert "12 recorded actions were replayed at their recorded instants." in text
    assert "1 were refused by the replayed case and skipped (1 confirm)." in text
    assert "Audit events of unknown type were left out: 2 legacy_note." in text
    assert ("1 cases were amended while running; replayed on the candidate's rules without the "
            "amendment.") in text
    assert "1 cases replayed differently from their record (any audit event or clock), of which 0" in text
    assert WhatIf.model_validate_json(render_json(r)) == r


def test_the_on_time_chart_says_n_a_where_no_clock_was_decided() -> None:
    pytest.importorskip("matplotlib")
    r = _report()
    # Decided: first response in general (both sides) and urgent (both sides), approval only in
    # general's actual side; every other tier's bars, and general's candidate approval, are n/a.
    texts = [t.get_text() for t in chart_on_time(r).axes[0].texts]
    tiers, clocks = len(r.by_tier), len(r.clock_labels)
    assert clocks == 2 and texts == ["n/a"] * (2 * tiers * clocks - 5)


def _merchant_report() -> WhatIf:
    tally = Tally(WhatIf(since=SINCE, until=UNTIL, generated_at=UNTIL, policy="tight.toml"))
    tally.add(("general", CASE_A), ("general", [breached("first_response"), ESCALATED, NEEDS_APPROVAL]),
              merchant="north")
    tally.add(("urgent", CASE_B), ("urgent", CASE_B), merchant="north")
    tally.add(("general", CASE_A), ("general", CASE_A))  # no merchant named: the default one
    tally.add(("general", CASE_A), ("general", [breached("first_response"), breached("approval")]),
              merchant="south")
    return tally.finish(1.0)


def test_tally_breaks_both_sides_down_by_merchant() -> None:
    r = _merchant_report()
    assert list(r.by_merchant) == ["default", "north", "south"]
    north, south, default = r.by_merchant["north"], r.by_merchant["south"], r.by_merchant["default"]
    # north, recorded: A's first response and approval on time, B's first response breached
    # -> 3 decided, 1 breached, 1 escalation (B), 1 approval needed (A)
    a = north.actual
    assert (a.cases, a.clocks_decided, a.breaches, a.escalations, a.approvals_needed) == (2, 3, 1, 1, 1)
    assert a.breach_rate == 1 / 3
    # north, candidate: both first responses breached, nothing else decided -> 2 of 2, and an
    # escalation each
    c = north.candidate
    assert (c.cases, c.clocks_decided, c.breaches, c.escalations, c.approvals_needed) == (2, 2, 2, 2, 1)
    assert c.breach_rate == 1.0
    # south: A on time twice as recorded, both clocks breached under the candidate
    assert (south.actual.breach_rate, south.candidate.breach_rate) == (0.0, 1.0)
    assert (south.candidate.clocks_decided, south.candidate.breaches) == (2, 2)
    # default: A on both sides
    assert default.actual == default.candidate and default.actual.breach_rate == 0.0
    # every case is in exactly one merchant: the merchants add up to all cases
    assert r.overall.candidate.breaches == 2 + 2 + 0
    assert sum(g.actual.cases for g in r.by_merchant.values()) == r.overall.actual.cases == 4


def test_merged_parts_add_up_by_merchant() -> None:
    whole = _merchant_report()
    merged = merge([whole, whole], 1.0)
    assert list(merged.by_merchant) == ["default", "north", "south"]
    north = merged.by_merchant["north"]
    assert (north.actual.breaches, north.candidate.breaches, north.candidate.cases) == (2, 4, 4)
    assert north.candidate.clocks["first_response"].breached == 4


def test_the_text_shows_the_worst_merchants_under_the_candidate() -> None:
    lines = render_text(_merchant_report(), merchants=2).splitlines()
    start = lines.index("By merchant (the 2 worst of 3 by candidate breach rate)")
    table = lines[start + 1 : start + 5]
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    # north and south both breach every decided clock under the candidate; north has 2 cases
    north, south = table[2], table[3]
    assert north.split("  ")[0] == "north" and south.split("  ")[0] == "south"
    assert "1 -> 2 (+1) = 33.3% -> 100.0%" in north
    assert "0 -> 2 (+2) = 0.0% -> 100.0%" in south
    assert lines[start + 5] == "1 more merchant not shown; the JSON output holds every merchant."
    assert not any(line.startswith("default") for line in lines)
    again = WhatIf.model_validate_json(render_json(_merchant_report()))
    assert set(again.by_merchant) == {"default", "north", "south"}


def test_the_html_page_shows_the_worst_merchant_only() -> None:
    pytest.importorskip("matplotlib")
    page = render_html(_merchant_report(), merchants=1)
    assert "<h2>By merchant (the 1 worst of 3 by candidate breach rate)</h2>" in page
    assert "<td>north</td><td>2 -&gt; 2</td><td>1 -&gt; 2 (+1) = 33.3% -&gt; 100.0%</td>" in page
    assert "<td>south</td>" not in page and "<td>default</td>" not in page
    assert "2 more merchants not shown; the JSON output holds every merchant." in page
