"""The interventions figures of the service report against the embedded PostgreSQL: every figure
equals one worked out by hand in the comments next to it.

The fixture (December 2022) writes recorded audit events, carry-out clock rows, merchant ledger
rows and settlement holds straight into their tables for five merchants, with cases, rows and
holds just outside the period. The last test (January 2023) drives two cases through the pure
case machine instead and writes the rows its projection and its ledger would, so the statement is
checked against what the engine really records. Everything happens inside a transaction that is
rolled back; neither month is used by any other test, and every case id carries a tag unique to
the run.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from activities import ledger
from cases.actions.roles import Role
from cases.core.machine import CaseMachine
from cases.ids import case_key
from cases.intervention.actions import Appeal, AskIntervention, CarryOutRuling, Rule, SubmitEvidence
from cases.intervention.models import Decision, Party
from cases.models import ClockName, ExecutedStep
from cases.platform.actions import Decision as Answer
from cases.platform.actions import MerchantAnswer
from cases.policy.snapshot import load_policy
from reports.service.figures import Report
from reports.service.html import render_html
from reports.service.interventions import InterventionFigures, LedgerAmounts
from reports.service.query import build_report
from reports.service.render import render_json, render_text
from tests.support.factories import intake
from tests.support.recorded_cases import insert_machine_case

SINCE = datetime(2022, 12, 1, tzinfo=UTC)
UNTIL = datetime(2023, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CARRY_OUT_WITHIN = 3 * DAY


def dec(day: int, hour: int = 12) -> datetime:
    return datetime(2022, 12, day, hour, tzinfo=UTC)


# A case's trail, in the order it happened:
#   ask               a buyer's request for a remedy
#   int               the platform asked to step in (by the buyer)
#   ruled:<decision>  a ruling took effect; appeal:<decision> is the appeal's ruling
#   carry:<outcome>   the merchant's deadline to carry the ruling out: met = carried out in time;
#                     pay = breached, the platform paid the buyer first; goods = breached, the
#                     ruling moves goods the platform cannot, so its staff took over; running =
#                     still within the deadline (no verdict, counts nowhere)
CASES: list[tuple[str, str, str]] = [
    ("anchor", "A1", "ask int ruled:refund carry:pay"),
    # Ruled against anchor, and again on anchor's appeal: two rulings, one case.
    ("anchor", "A2", "ask int ruled:refund appeal:refund carry:met"),
    ("anchor", "A3", "ask"),
    ("anchor", "A4", "ask"),
    ("birch", "B1", "ask int ruled:repair carry:goods"),
    ("birch", "B2", "ask int ruled:refund carry:pay"),
    ("birch", "B3", "ask int ruled:exchange carry:running"),
    # Ruled for cedar, then against it on the buyer's appeal.
    ("cedar", "C1", "ask int ruled:reject appeal:return_refund carry:met"),
    ("cedar", "C2", "ask int ruled:reject"),
    ("cedar", "C3", "ask"),
    ("cedar", "C4", "ask"),
    ("delta", "D1", "ask"),
    # A case without a request: fir has nothing to report here.
    ("fir", "F1", ""),
]
# Anchor's, opened exactly at the exclusive end: were it counted, anchor would have 5 requests,
# 3 interventions and 4 rulings against.
OUTSIDE = ("anchor", "XA", "ask int ruled:refund carry:pay")

# The ledger's rows: (merchant, the merchant's case, kind, amount, currency, at). Cedar's CN and
# CU cases opened before the period; their money moved in it.
LEDGER: list[tuple[str, str, str, str, str, datetime]] = [
    ("anchor", "A1", "platform_payout", "300.00", "CNY", dec(10)),
    ("anchor", "A1", "recovery", "300.00", "CNY", dec(10)),
    ("anchor", "A1", "recovery_settled", "300.00", "CNY", dec(20)),
    ("birch", "B2", "platform_payout", "200.00", "CNY", dec(15)),
    ("birch", "B2", "recovery", "200.00", "CNY", dec(15)),
    ("cedar", "CN", "recovery_settled", "150.00", "CNY", dec(2)),
    ("cedar", "CU", "platform_payout", "20.00", "USD", dec(12)),
    ("cedar", "CU", "recovery", "20.00", "USD", dec(12)),
]
# Dated a second before the period and at its exclusive end: counted in neither.
LEDGER_OUTSIDE: list[tuple[str, str, str, str, str, datetime]] = [
    ("cedar", "CN", "platform_payout", "999.00", "CNY", SINCE - timedelta(seconds=1)),
    ("cedar", "CN", "recovery", "999.00", "CNY", SINCE - timedelta(seconds=1)),
    ("birch", "B2", "recovery_settled", "200.00", "CNY", UNTIL),
]
# The settlement holds: (merchant, the merchant's case, held at, released at).
HOLDS: list[tuple[str, str, datetime, datetime | None]] = [
    ("anchor", "A1", dec(5), dec(21)),  # released in the period: not open at its end
    ("anchor", "A2", dec(6), None),
    ("birch", "B1", dec(7), UNTIL + DAY),  # released after the period: open at its end
    ("birch", "B2", dec(8), None),
    ("birch", "B3", dec(9), None),
    ("cedar", "C1", dec(3), dec(4)),
    ("elm", "E0", datetime(2022, 10, 10, tzinfo=UTC), None),  # elm's case opened in October
    ("delta", "D1", UNTIL + HOUR, None),  # held after the period
]

# ---------------------------------------------------------------------------------------------
# Expected figures, by hand.
#
#           requested  intervened  against  for  not carried out  holds open
#   anchor  A1-A4 = 4  A1, A2 = 2  A1 1, A2 2 = 3  0  A1 = 1     A2 = 1
#   birch   3          3           B1, B2, B3 = 3  0  B1, B2 = 2 (B3 runs)  B1, B2, B3 = 3
#   cedar   4          C1, C2 = 2  C1 = 1   C1, C2 = 2  0         0 (C1 released)
#   delta   1          0           0        0    0                0 (held after the period)
#   elm     0          0           0        0    0                1
#   all     12         7           7        2    3                5
#
# Ledger (paid first, recoveries, settled; owed = recoveries - settled), per currency:
#   anchor  CNY 300, 300, 300 -> 0;  birch CNY 200, 200, 0 -> 200
#   cedar   CNY 0, 0, 150 -> -150 (an October payout settled in December);  USD 20, 20, 0 -> 20
#   all     CNY 500, 500, 450 -> 50;  USD 20, 20, 0 -> 20
#
# Intervention rate = intervened / requested: birch 3/3, anchor 2/4 and cedar 2/4 (a tie: the same
# requests, so the lower id first), delta 0/1, elm none (no request) last.
# ---------------------------------------------------------------------------------------------
EXPECTED: dict[str, tuple[int, ...]] = {
    "all": (12, 7, 7, 2, 3, 5),
    "anchor": (4, 2, 3, 0, 1, 1),
    "birch": (3, 3, 3, 0, 2, 3),
    "cedar": (4, 2, 1, 2, 0, 0),
    "delta": (1, 0, 0, 0, 0, 0),
    "elm": (0, 0, 0, 0, 0, 1),
}
EXPECTED_RATES: dict[str, float | None] = {
    "all": 7 / 12, "anchor": 0.5, "birch": 1.0, "cedar": 0.5, "delta": 0.0, "elm": None,
}
# (currency, paid first, recoveries, settled, owed)
EXPECTED_LEDGER: dict[str, list[tuple[str, str, str, str, str]]] = {
    "all": [("CNY", "500.00", "500.00", "450.00", "50.00"), ("USD", "20.00", "20.00", "0.00", "20.00")],
    "anchor": [("CNY", "300.00", "300.00", "300.00", "0.00")],
    "birch": [("CNY", "200.00", "200.00", "0.00", "200.00")],
    "cedar": [("CNY", "0.00", "0.00", "150.00", "-150.00"), ("USD", "20.00", "20.00", "0.00", "20.00")],
    "delta": [],
    "elm": [],
}
WORST_FIRST = ["birch", "anchor", "cedar", "delta", "elm"]

_INSERT_CASE = """
INSERT INTO cases (case_id, workflow_id, order_id, customer_id, customer_tier, channel, category,
    tier, status, escalation_level, order_amount, currency, opened_at, sla_state, last_seq, state)
VALUES ($1, $2, 'order-1', 'cust-1', 'standard', 'app', 'product_quality', 'general',
    'acknowledged', 3, 300.00, 'CNY', $3, 'met', 1, '{}'::jsonb)
"""
_INSERT_EVENT = """
INSERT INTO case_events (case_id, seq, type, actor, at, data) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""
_INSERT_CLOCK = """
INSERT INTO sla_clocks (case_id, round, clock, turn, target_seconds, business, target_label,
    started_at, due_at, state, warned_at, breached_at, met_at, stopped_at, elapsed_seconds)
VALUES ($1, 0, 'ruling_carry_out', $2, $3, false, '72h', $4, $5, $6, NULL, $7, $8, NULL, NULL)
"""
_INSERT_LEDGER = """
INSERT INTO merchant_ledger (key, case_id, merchant_id, kind, amount, currency, at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
_INSERT_HOLD = """
INSERT INTO settlement_holds (case_id, merchant_id, order_id, held_at, released_at)
VALUES ($1, $2, 'order-1', $3, $4)
"""
REQUEST = {"remedy": "refund_only", "reason": "quality", "amount": "300.00", "rule": "",
           "entitled": ["refund_only"], "prior_repairs": 0, "verdicts": []}


class Trail:
    """One case's audit events and carry-out clock rows, in the order the tokens of CASES give."""

    def __init__(self, key: str, opened_at: datetime) -> None:
        self.key, self.now = key, opened_at
        self.events: list[tuple[Any, ...]] = []
        self.clocks: list[tuple[Any, ...]] = []
        self.last_decision = ""

    def event(self, kind: str, actor: str, **data: Any) -> None:
        self.now += HOUR
        seq = len(self.events) + 1
        self.events.append((self.key, seq, kind, actor, self.now, json.dumps(data)))

    def token(self, kind: str, arg: str) -> None:
        if kind == "ask":
            self.event("remedy_requested", "buyer", **REQUEST)
        elif kind == "int":
            self.event("intervention_asked", "customer", party="buyer", reason="no refund",
                       references=[], stage=1)
        elif kind in ("ruled", "appeal"):
            self.last_decision = arg
            self.event("ruled", "system", decision=arg, amount="300.00", reason="seen",
                       arbiters=["arbiter-1"], appeal=kind == "appeal",
                       stage=6 if arg == "reject" else 4)
        else:
            self.carry(arg)

    def carry(self, outcome: str) -> None:
        """The carry-out clock started at the last ruling, decided (or not) as `outcome` says."""
        started = self.now
        due = started + CARRY_OUT_WITHIN
        late = outcome in ("pay", "goods")
        self.clocks.append((
            self.key, len(self.clocks), CARRY_OUT_WITHIN.total_seconds(), started, due,
            "breached" if late else outcome, due if late else None,
            started + DAY if outcome == "met" else None,
        ))
        if outcome == "pay":
            self.now = due - HOUR
            self.event("platform_pays_first", "system", amount="300.00", stage=5)
        elif outcome == "goods":
            self.now = due - HOUR
            self.event("ruling_not_carried_out", "system", decision=self.last_decision)
        elif outcome == "met":
            self.event("ruling_carried_out", "merchant-1", note="", settles=False)


async def insert_case(
    conn: asyncpg.Connection, tag: str, opened_at: datetime, spec: tuple[str, str, str]
) -> None:
    merchant, name, trail_spec = spec
    key = case_key(f"{tag}{name}", merchant)
    await conn.execute(_INSERT_CASE, key, f"case-{key}", opened_at)
    trail = Trail(key, opened_at)
    for token in trail_spec.split():
        match = re.fullmatch(r"(ask|int|ruled|appeal|carry)(?::(\w+))?", token)
        assert match is not None, token
        trail.token(match[1], match[2] or "")
    await conn.executemany(_INSERT_EVENT, trail.events)
    await conn.executemany(_INSERT_CLOCK, trail.clocks)


async def insert_money(
    conn: asyncpg.Connection,
    tag: str,
    rows: Sequence[tuple[str, str, str, str, str, datetime]],
    holds: Sequence[tuple[str, str, datetime, datetime | None]] = (),
) -> None:
    await conn.executemany(_INSERT_LEDGER, [
        (f"{case_key(tag + name, merchant)}:{i}:{kind}", case_key(tag + name, merchant), merchant,
         kind, Decimal(amount), currency, at)
        for i, (merchant, name, kind, amount, currency, at) in enumerate(rows)
    ])
    await conn.executemany(_INSERT_HOLD, [
        (case_key(tag + name, merchant), merchant, held, released)
        for merchant, name, held, released in holds
    ])


@pytest.fixture
async def report(conn: asyncpg.Connection) -> Report:
    tag = f"ri{uuid.uuid4().hex[:8]}-"
    for i, spec in enumerate(CASES):
        await insert_case(conn, tag, SINCE + timedelta(days=2 * i, hours=i % 5), spec)
    await insert_case(conn, tag, UNTIL, OUTSIDE)
    await insert_money(conn, tag, LEDGER + LEDGER_OUTSIDE, HOLDS)
    return await build_report(conn, SINCE, UNTIL)


def counts(f: InterventionFigures) -> tuple[int, ...]:
    return (f.requested_cases, f.intervened_cases, f.ruled_against, f.ruled_for,
            f.not_carried_out, f.open_holds)


def amounts(f: InterventionFigures) -> list[tuple[str, str, str, str, str]]:
    return [(currency, f"{a.platform_payouts}", f"{a.recoveries}", f"{a.settled}", f"{a.owed}")
            for currency, a in f.ledger.items()]


async def test_intervention_figures_equal_hand_computed(report: Report) -> None:
    interventions = report.interventions
    # Fir had a case but no request, intervention, ledger row or hold; elm only an open hold.
    assert list(interventions.by_merchant) == ["anchor", "birch", "cedar", "delta", "elm"]
    assert "fir" in report.by_merchant and "elm" not in report.by_merchant
    for name, expected in EXPECTED.items():
        got = interventions.overall if name == "all" else interventions.by_merchant[name]
        assert counts(got) == expected, name
        assert got.intervention_rate == pytest.approx(EXPECTED_RATES[name]), name
        assert amounts(got) == EXPECTED_LEDGER[name], name
    # The merchants split the platform's counts: none is in two, none is left out.
    for field in InterventionFigures.model_fields:
        if field != "ledger":
            assert sum(getattr(f, field) for f in interventions.by_merchant.values()) == getattr(
                interventions.overall, field), field


async def test_an_appeal_ruling_is_a_second_ruling(report: Report) -> None:
    anchor = report.interventions.by_merchant["anchor"]
    # A1 was ruled once and A2 twice (the ruling and the appeal's): three rulings over two cases.
    assert (anchor.intervened_cases, anchor.ruled_against, anchor.rulings) == (2, 3, 3)
    cedar = report.interventions.by_merchant["cedar"]
    # C1 was ruled for cedar, then against it on appeal; C2 for it once.
    assert (cedar.ruled_against, cedar.ruled_for, cedar.rulings) == (1, 2, 3)


async def test_text_shows_the_worst_merchants_by_intervention_rate(report: Report) -> None:
    lines = render_text(report).splitlines()
    start = lines.index("Interventions (5, worst intervention rate first)")
    # The interventions table comes right after the merchant-duties table.
    assert lines[start - 1] == "" and "Merchant duties (" in "\n".join(lines[:start])
    table = lines[start + 1 : start + 9]  # header, rule, the platform, five merchants
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    assert [h.strip() for h in table[0].split("  ") if h.strip()] == [
        "merchant", "requested", "intervention rate", "ruled against", "ruled for",
        "not carried out", "paid first", "settled", "owed", "holds open",
    ]
    assert table[2].split() == [
        "all", "merchants", "12", "58.3%", "(7/12)", "7", "2", "3",
        "500.00", "CNY", "+", "20.00", "USD", "450.00", "CNY", "+", "0.00", "USD",
        "50.00", "CNY", "+", "20.00", "USD", "5",
    ]
    assert [line.split()[0] for line in table[3:]] == WORST_FIRST
    assert table[3].split() == ["birch", "3", "100.0%", "(3/3)", "3", "0", "2", "200.00", "CNY",
                                "0.00", "CNY", "200.00", "CNY", "3"]
    assert table[5].split() == ["cedar", "4", "50.0%", "(2/4)", "1", "2", "0", "0.00", "CNY", "+",
                                "20.00", "USD", "150.00", "CNY", "+", "0.00", "USD", "-150.00",
                                "CNY", "+", "20.00", "USD", "0"]
    assert table[7].split() == ["elm", "0", "-", "(0/0)", "0", "0", "0", "-", "-", "-", "1"]
    assert lines[start + 9] == ""  # no merchant left out, so no "more" line
    # Every column has its legend, once, under the definitions.
    for name in ("requested", "intervention rate", "ruled against", "ruled for",
                 "not carried out", "paid first", "settled", "owed", "holds open"):
        assert sum(line.startswith(f"  {name}: ") for line in lines) == 1, name
    legend = next(line for line in lines if line.startswith("  intervention rate: "))
    assert "over cases with a buyer's request" in legend
    assert "dated in the period" in next(line for line in lines if line.startswith("  owed: "))

    lines = render_text(report, merchants=2).splitlines()
    start = lines.index("Interventions (the 2 worst of 5 by intervention rate)")
    assert [line.split()[0] for line in lines[start + 3 : start + 6]] == ["all", "birch", "anchor"]
    assert lines[start + 6] == "3 more merchants not shown; the JSON output holds every merchant."


async def test_json_and_html_hold_the_interventions(report: Report) -> None:
    data = json.loads(render_json(report))
    interventions = data["interventions"]
    assert set(interventions) == {"overall", "by_merchant"}
    assert set(interventions["by_merchant"]) == set(WORST_FIRST)
    assert interventions["overall"] == {
        "requested_cases": 12, "intervened_cases": 7, "ruled_against": 7, "ruled_for": 2,
        "not_carried_out": 3, "open_holds": 5,
        "ledger": {
            "CNY": {"platform_payouts": "500.00", "recoveries": "500.00", "settled": "450.00",
                    "owed": "50.00"},
            "USD": {"platform_payouts": "20.00", "recoveries": "20.00", "settled": "0.00",
                    "owed": "20.00"},
        },
        "intervention_rate": 7 / 12, "rulings": 9,
    }
    assert interventions["by_merchant"]["elm"]["intervention_rate"] is None
    assert interventions["by_merchant"]["delta"]["ledger"] == {}
    assert Report.model_validate(data) == report

    pytest.importorskip("matplotlib")
    page = render_html(report, merchants=1)
    assert "<h2>Interventions (the 1 worst of 5 by intervention rate)</h2>" in page
    assert ('<tr class="all"><td>all merchants</td><td>12</td><td>58.3% (7/12)</td><td>7</td>'
            "<td>2</td><td>3</td><td>500.00 CNY + 20.00 USD</td><td>450.00 CNY + 0.00 USD</td>"
            "<td>50.00 CNY + 20.00 USD</td><td>5</td></tr>") in page
    assert ("<tr><td>birch</td><td>3</td><td>100.0% (3/3)</td><td>3</td><td>0</td><td>2</td>"
            "<td>200.00 CNY</td><td>0.00 CNY</td><td>200.00 CNY</td><td>3</td></tr>") in page
    assert "<td>anchor</td><td>4</td><td>50.0% (2/4)</td>" not in page
    assert "4 more merchants not shown" in page
    assert "<dt>intervention rate</dt>" in page and "<dt>holds open</dt>" in page


async def test_no_intervention_and_no_ledger_row_leaves_the_section_out(
    conn: asyncpg.Connection,
) -> None:
    # Delta's request alone, and a hold still open from an earlier period: no intervention on
    # the period's cases and no money moved in it, so no section.
    tag = f"rin{uuid.uuid4().hex[:8]}-"
    await insert_case(conn, tag, SINCE + 3 * HOUR, ("delta", "D9", "ask"))
    await insert_money(conn, tag, [], [("elm", "E9", SINCE - DAY, None)])
    quiet = await build_report(conn, SINCE, SINCE + DAY)
    interventions = quiet.interventions
    assert counts(interventions.overall) == (1, 0, 0, 0, 0, 1)
    assert interventions.overall.intervention_rate == 0.0 and interventions.overall.ledger == {}
    assert list(interventions.by_merchant) == ["delta", "elm"]
    text = render_text(quiet)
    assert "Merchant duties (1, worst silence share first)" in text
    assert "Interventions" not in text
    assert "intervention rate" not in text and "holds open" not in text

    empty = await build_report(conn, datetime(2001, 1, 1, tzinfo=UTC),
                               datetime(2001, 2, 1, tzinfo=UTC))
    assert counts(empty.interventions.overall) == (0, 0, 0, 0, 0, 0)
    assert empty.interventions.overall.intervention_rate is None
    assert empty.interventions.by_merchant == {}
    assert "Interventions" not in render_text(empty)
    pytest.importorskip("matplotlib")
    page = render_html(quiet)
    assert "Interventions" not in page and "<dt>intervention rate</dt>" not in page


async def test_a_ledger_row_alone_shows_the_section(conn: asyncpg.Connection) -> None:
    # No case opened in the period, but the platform paid first for an earlier one.
    tag = f"ril{uuid.uuid4().hex[:8]}-"
    await insert_money(conn, tag, [("cedar", "CN", "platform_payout", "80.00", "CNY", dec(1, 6))])
    paid = await build_report(conn, SINCE, SINCE + DAY)
    assert paid.overall.cases == 0
    assert paid.interventions.overall.ledger == {
        "CNY": LedgerAmounts(platform_payouts=Decimal("80.00"), recoveries=Decimal("0.00"),
                             settled=Decimal("0.00")),
    }
    lines = render_text(paid).splitlines()
    start = lines.index("Interventions (1, worst intervention rate first)")
    assert lines[start + 3].split() == ["all", "merchants", "0", "-", "(0/0)", "0", "0", "0",
                                        "80.00", "CNY", "0.00", "CNY", "0.00", "CNY", "0"]
    assert lines[start + 4].split()[0] == "cedar"


# ---------------------------------------------------------------------------------------------
# What the engine records

ENGINE_SINCE = datetime(2023, 1, 1, tzinfo=UTC)
POLICY = load_policy(None)


def heard(case_id: str, merchant: str, opened: datetime) -> CaseMachine:
    """Perishable goods the merchant refused to take back: the buyer asks the platform a day
    later and the merchant gives its side an hour after that."""
    order = {"signed_at": (opened - DAY).isoformat(), "goods_class": "perishable"}
    case = intake(case_id=case_id, merchant_id=merchant, order_amount="2000.00",
                  request={"remedy": "return_refund", "reason": "no_reason", "order": order})
    m = CaseMachine.open(case.key, case, POLICY.snapshot(opened), opened)
    m.apply("answer_request", MerchantAnswer(actor="merchant-1", decision=Answer.REJECT,
                                             reason="fresh food"), opened + HOUR)
    m.apply("ask_intervention", AskIntervention(reason="it arrived rotten"), opened + DAY)
    m.apply("submit_evidence", SubmitEvidence(actor="merchant-1", party=Party.MERCHANT,
                                              text="shipped fresh"), opened + DAY + HOUR)
    return m


async def insert_with_ledger(conn: asyncpg.Connection, m: CaseMachine) -> None:
    """The rows the projection writes for `m`, and the ledger's, as activities/store.py writes them."""
    await insert_machine_case(conn, m)
    state = m.state
    await ledger.write(conn, state.case_id, state.intake.order_id, state.intake.currency, m.events)


def carry_out_due(m: CaseMachine) -> datetime:
    at = m.state.clocks[ClockName.RULING_CARRY_OUT].due_at
    assert at is not None
    return at


async def test_the_figures_read_what_the_engine_records(conn: asyncpg.Connection) -> None:
    tag = uuid.uuid4().hex[:8]
    merchant = f"eng{tag}"
    opened = ENGINE_SINCE + 3 * DAY
    # Paid: ruled to refund 500, the merchant lets its deadline pass, the platform pays the buyer
    # first and the merchant settles an hour later. The intervention stays open (and the order's
    # settlement held) until the appeal window ends.
    paid = heard(f"rie{tag}p", merchant, opened)
    paid.apply("rule", Rule(actor="arbiter-1", decision=Decision.REFUND, amount=Decimal("500"),
                            reason="rotten", role=Role.ARBITER), opened + 2 * DAY)
    ends = carry_out_due(paid)
    paid.fire_due(ends)
    paid.resolution_executed([ExecutedStep(step="platform_refund", reference="pf-1")],
                             ends + timedelta(minutes=1))
    paid.apply("carry_out_ruling", CarryOutRuling(actor="merchant-1"), ends + HOUR)
    # Appealed: ruled for the merchant, then against it on the buyer's appeal by another
    # arbiter; the merchant carries the final ruling out in time, which ends the intervention.
    appealed = heard(f"rie{tag}a", merchant, opened + HOUR)
    appealed.apply("rule", Rule(actor="arbiter-1", decision=Decision.REJECT, reason="not rotten",
                                role=Role.ARBITER), opened + 2 * DAY)
    appealed.apply("appeal", Appeal(reason="look again"), opened + 3 * DAY)
    appealed.apply("rule", Rule(actor="arbiter-3", decision=Decision.REFUND, amount=Decimal("300"),
                                reason="rotten after all", role=Role.ARBITER), opened + 4 * DAY)
    appealed.apply("carry_out_ruling", CarryOutRuling(actor="merchant-1"),
                   opened + 4 * DAY + HOUR)
    for m in (paid, appealed):
        await insert_with_ledger(conn, m)

    report = await build_report(conn, ENGINE_SINCE, ENGINE_SINCE + timedelta(days=31))
    got = report.interventions.by_merchant[merchant]
    # Two requests, both taken to the platform; three rulings (one for the merchant, two against
    # it); one carry-out deadline breached; one hold still open (the paid case's).
    assert counts(got) == (2, 2, 2, 1, 1, 1)
    assert got.intervention_rate == 1.0
    assert amounts(got) == [("CNY", "500.00", "500.00", "500.00", "0.00")]
