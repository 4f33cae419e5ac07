"""The merchant-duties figures of the service report against the embedded PostgreSQL: every figure
equals one worked out by hand in the comments next to it.

The first fixture (October 2022) writes recorded audit events and clock rows straight into
`cases`, `case_events` and `sla_clocks` for four merchants with duties, one without and one case
just outside the period. The last test (November 2022) drives two cases through the pure case
machine instead and writes the rows its projection would, so the statement is checked against what
the engine really records. Everything happens inside a transaction that is rolled back; neither
month is used by any other test, and every case id carries a tag unique to the run.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from cases.core.machine import CaseMachine
from cases.core.moves import NotAuthorized
from cases.fulfilment.actions import ReturnDelivered, ReturnShipped
from cases.ids import case_key
from cases.models import ClockName
from cases.platform.actions import Decision, MerchantAnswer
from cases.policy.snapshot import load_policy
from reports.service.duties import DutyFigures
from reports.service.figures import Report
from reports.service.html import render_html
from reports.service.query import build_report
from reports.service.render import render_json, render_text
from tests.support.factories import intake
from tests.support.recorded_cases import insert_machine_case

SINCE = datetime(2022, 10, 1, tzinfo=UTC)
UNTIL = datetime(2022, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ANSWER_WITHIN = 48 * HOUR
HANDLE_WITHIN = 7 * 24 * HOUR

# A case's duties, in the order they happened:
#   ask:<outcome>   a buyer's request, with its own turn of the merchant's answer clock:
#                   answered = answered by hand in time (met, no breach); silent = agreed by
#                   silence at the deadline (breached and met at once, as the engine does);
#                   waiting = no answer yet (running); stopped = the case ended first (stopped)
#   ask!:<outcome>  the same, after the merchant tried to reject it and the engine refused
#   ret:<outcome>   a return delivered to the merchant, with its delivered-return clock:
#                   handled = refunded or failed at inspection in time; silent = passed and
#                   refunded by silence; running = still within the 7 days
DUTIES: list[tuple[str, str, str]] = [
    ("north", "N1", "ask:answered ret:handled"),
    ("north", "N2", "ask!:silent ret:silent"),
    ("north", "N3", "ask:answered ask:silent"),
    ("north", "N4", "ask:waiting"),
    ("south", "S1", "ask:silent"),
    ("south", "S2", "ask!:answered ret:silent"),
    ("south", "S3", "ret:running"),
    ("east", "E1", "ask:answered"),
    ("east", "E2", "ask:stopped"),
    # Returns from proposals the merchant approved, never a request: still its delivery duty.
    ("quay", "Q1", "ret:silent"),
    ("quay", "Q2", "ret:handled"),
    # A case without a request or a delivered return: west has no duties to report.
    ("west", "W1", ""),
]
# North's, opened exactly at the exclusive end: were it counted, north would have 6 requests.
OUTSIDE = ("north", "XN", "ask!:silent ret:silent")

# ---------------------------------------------------------------------------------------------
# Expected figures, by hand.
#
#           requests  answers decided  on time  agreed   delivered decided  refunded  refused
#   north   5         N1 N2 N3 N3 = 4  N1 N3 2  N2 N3 2  N1 N2 = 2          N2 1      N2 1
#           (N4 waits: a request, no verdict)
#   south   2         S1 S2 = 2        S2 1     S1 1     S2 = 1 (S3 runs)   S2 1      S2 1
#   east    2         E1 = 1 (E2 stopped) E1 1  0        0                  0         0
#   quay    0         0                0        0        Q1 Q2 = 2          Q1 1      0
#   all     9         7                4        3        5                  3         2
#
# Silence share = (agreed + refunded) / (answers decided + delivered decided):
#   south 2/3, north 3/6, quay 1/2, east 0/1, all 6/12.
# Worst first: south (66.7 %), then north and quay (50 % each; north decided 6 deadlines, quay
# 2), then east (0 %).
#
# Fields: requests, answers decided, answered on time, agreed by silence, delivered returns
# decided, refunded by silence, rejections refused.
EXPECTED: dict[str, tuple[int, ...]] = {
    "all": (9, 7, 4, 3, 5, 3, 2),
    "east": (2, 1, 1, 0, 0, 0, 0),
    "north": (5, 4, 2, 2, 2, 1, 1),
    "quay": (0, 0, 0, 0, 2, 1, 0),
    "south": (2, 2, 1, 1, 1, 1, 1),
}
# (on-time answer rate, auto-agreed rate, auto-refunded rate, silence share)
EXPECTED_RATES: dict[str, tuple[float | None, ...]] = {
    "all": (4 / 7, 3 / 7, 3 / 5, 6 / 12),
    "east": (1.0, 0.0, None, 0.0),
    "north": (2 / 4, 2 / 4, 1 / 2, 3 / 6),
    "quay": (None, None, 1 / 2, 1 / 2),
    "south": (1 / 2, 1 / 2, 1.0, 2 / 3),
}
WORST_FIRST = ["south", "north", "quay", "east"]

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
VALUES ($1, 0, $2, $3, $4, false, $5, $6, $7, $8, NULL, $9, $10, $11, NULL)
"""
REQUEST = {"remedy": "return_refund", "reason": "no_reason", "amount": "300.00",
           "rule": "no_reason_return", "entitled": ["return_refund", "exchange"],
           "prior_repairs": 0, "verdicts": []}


class Trail:
    """One case's audit events and duty clock rows, in the order the tokens of DUTIES give."""

    def __init__(self, key: str, opened_at: datetime) -> None:
        self.key, self.now = key, opened_at
        self.events: list[tuple[Any, ...]] = []
        self.clocks: list[tuple[Any, ...]] = []
        self.answer_turns = 0

    def event(self, kind: str, actor: str, **data: Any) -> None:
        self.now += HOUR
        seq = len(self.events) + 1
        self.events.append((self.key, seq, kind, actor, self.now, json.dumps(data)))

    def clock(self, name: str, turn: int, target: timedelta, outcome: str) -> None:
        """The clock started an hour ago, decided (or not) as `outcome` says."""
        started = self.now
        due = started + target
        breached = due if outcome == "silent" else None
        met = {"answered": started + 5 * HOUR, "handled": started + 30 * HOUR, "silent": due}
        state = {"silent": "breached", "waiting": "running"}.get(outcome, outcome)
        self.clocks.append((
            self.key, name, turn, target.total_seconds(), f"{round(target / HOUR)}h", started, due,
            "met" if outcome in ("answered", "handled") else state, breached, met.get(outcome),
            started + 10 * HOUR if outcome == "stopped" else None,
        ))

    def ask(self, refused: bool, outcome: str) -> None:
        self.event("remedy_requested", "buyer", **REQUEST)
        self.clock("merchant_answer", self.answer_turns, ANSWER_WITHIN, outcome)
        self.answer_turns += 1
        if refused:
            self.event("rejection_refused", "merchant-1", rule="no_reason_return",
                       remedy="return_refund", reason="the box is opened")
        if outcome == "answered":
            self.event("request_answered", "merchant-1", decision="agree", reason="")
        elif outcome == "silent":
            self.event("request_agreed_by_silence", "system", remedy="return_refund",
                       amount="300.00")

    def deliver(self, outcome: str) -> None:
        self.event("return_delivered", "carrier", rma=f"RMA-{self.key}-1", note="")
        self.clock("delivered_return", 0, HANDLE_WITHIN, outcome)
        if outcome == "silent":
            self.event("inspection_result", "system", result="passed", evidence=[], silent=True,
                       notes="no refund or failed inspection within 7d of delivery")
        elif outcome == "handled":
            self.event("inspection_result", "merchant-1", result="passed", evidence=[],
                       silent=False, notes="")


async def insert_case(
    conn: asyncpg.Connection, tag: str, opened_at: datetime, spec: tuple[str, str, str]
) -> None:
    merchant, name, duties = spec
    key = case_key(f"{tag}{name}", merchant)
    await conn.execute(_INSERT_CASE, key, f"case-{key}", opened_at)
    trail = Trail(key, opened_at)
    for token in duties.split():
        match = re.fullmatch(r"(ask|ret)(!?):(\w+)", token)
        assert match is not None, token
        if match[1] == "ask":
            trail.ask(bool(match[2]), match[3])
        else:
            trail.deliver(match[3])
    await conn.executemany(_INSERT_EVENT, trail.events)
    await conn.executemany(_INSERT_CLOCK, trail.clocks)


@pytest.fixture
async def report(conn: asyncpg.Connection) -> Report:
    tag = f"rd{uuid.uuid4().hex[:8]}-"
    for i, spec in enumerate(DUTIES):
        await insert_case(conn, tag, SINCE + timedelta(days=2 * i, hours=i % 5), spec)
    await insert_case(conn, tag, UNTIL, OUTSIDE)
    return await build_report(conn, SINCE, UNTIL)


def counts(d: DutyFigures) -> tuple[int, ...]:
    return (d.requests, d.answers_decided, d.answered_on_time, d.agreed_by_silence,
            d.delivered_returns_decided, d.refunded_by_silence, d.rejections_refused)


def rates(d: DutyFigures) -> tuple[float | None, ...]:
    return (d.on_time_answer_rate, d.auto_agreed_rate, d.auto_refunded_rate, d.silence_rate)


async def test_duty_figures_equal_hand_computed(report: Report) -> None:
    duties = report.merchant_duties
    # West had cases but no request and no delivered return, so it has no duties to report.
    assert list(duties.by_merchant) == ["east", "north", "quay", "south"]
    assert "west" in report.by_merchant
    for name, expected in EXPECTED.items():
        got = duties.overall if name == "all" else duties.by_merchant[name]
        assert counts(got) == expected, name
        assert rates(got) == pytest.approx(EXPECTED_RATES[name]), name
    # The merchants split the platform's duties: none is in two, none is left out.
    for field in DutyFigures.model_fields:
        assert sum(getattr(d, field) for d in duties.by_merchant.values()) == getattr(
            duties.overall, field), field


async def test_text_shows_the_worst_merchants_at_their_duties(report: Report) -> None:
    lines = render_text(report).splitlines()
    start = lines.index("Merchant duties (4, worst silence share first)")
    # The duty table comes right after the by-merchant table.
    assert lines[start - 1] == "" and "By merchant (" in "\n".join(lines[:start])
    table = lines[start + 1 : start + 8]  # header, rule, the platform, four merchants
    assert len({len(line) for line in table}) == 1, "\n".join(table)
    assert [h.strip() for h in table[0].split("  ") if h.strip()] == [
        "merchant", "requests", "answered on time", "auto-agreed", "auto-refunded",
        "refused rejections", "silence share",
    ]
    assert table[2].split() == ["all", "merchants", "9", "57.1%", "(4/7)", "42.9%", "(3/7)",
                                "60.0%", "(3/5)", "2", "50.0%", "(6/12)"]
    assert [line.split()[0] for line in table[3:]] == WORST_FIRST
    assert table[3].split() == ["south", "2", "50.0%", "(1/2)", "50.0%", "(1/2)", "100.0%",
                                "(1/1)", "1", "66.7%", "(2/3)"]
    assert table[5].split() == ["quay", "0", "-", "(0/0)", "-", "(0/0)", "50.0%", "(1/2)", "0",
                                "50.0%", "(1/2)"]
    assert table[6].split() == ["east", "2", "100.0%", "(1/1)", "0.0%", "(0/1)", "-", "(0/0)",
                                "0", "0.0%", "(0/1)"]
    assert lines[start + 8] == ""  # no merchant left out, so no "more" line
    # Every column has its legend under the definitions.
    for name in ("requests", "answered on time", "auto-agreed", "auto-refunded",
                 "refused rejections", "silence share"):
        assert sum(line.startswith(f"  {name}: ") for line in lines) == 1, name

    lines = render_text(report, merchants=2).splitlines()
    start = lines.index("Merchant duties (the 2 worst of 4 by silence share)")
    assert [line.split()[0] for line in lines[start + 3 : start + 6]] == ["all", "south", "north"]
    assert lines[start + 6] == "2 more merchants not shown; the JSON output holds every merchant."


async def test_json_and_html_hold_the_duties(report: Report) -> None:
    data = json.loads(render_json(report))
    duties = data["merchant_duties"]
    assert set(duties) == {"overall", "by_merchant"}
    assert set(duties["by_merchant"]) == set(WORST_FIRST)
    assert duties["overall"] == {
        "requests": 9, "answers_decided": 7, "answered_on_time": 4, "agreed_by_silence": 3,
        "delivered_returns_decided": 5, "refunded_by_silence": 3, "rejections_refused": 2,
        "on_time_answer_rate": 4 / 7, "auto_agreed_rate": 3 / 7, "auto_refunded_rate": 3 / 5,
        "duties_decided": 12, "decided_by_silence": 6, "silence_rate": 0.5,
    }
    assert duties["by_merchant"]["quay"]["on_time_answer_rate"] is None
    assert duties["by_merchant"]["south"]["silence_rate"] == 2 / 3
    assert Report.model_validate(data) == report

    pytest.importorskip("matplotlib")
    page = render_html(report, merchants=1)
    assert "<h2>Merchant duties (the 1 worst of 4 by silence share)</h2>" in page
    assert ('<tr class="all"><td>all merchants</td><td>9</td><td>57.1% (4/7)</td>'
            "<td>42.9% (3/7)</td><td>60.0% (3/5)</td><td>2</td><td>50.0% (6/12)</td></tr>") in page
    assert ("<tr><td>south</td><td>2</td><td>50.0% (1/2)</td><td>50.0% (1/2)</td>"
            "<td>100.0% (1/1)</td><td>1</td><td>66.7% (2/3)</td></tr>") in page
    assert "<td>north</td><td>5</td>" not in page
    assert "3 more merchants not shown" in page
    assert "<dt>auto-refunded</dt>" in page


async def test_no_request_or_delivered_return_leaves_the_section_out(
    conn: asyncpg.Connection,
) -> None:
    # West's case alone: a period with cases, but no duty of any merchant.
    tag = f"rdn{uuid.uuid4().hex[:8]}-"
    await insert_case(conn, tag, SINCE + timedelta(hours=3), ("west", "W9", ""))
    quiet = await build_report(conn, SINCE, SINCE + timedelta(days=1))
    assert quiet.overall.cases == 1 and list(quiet.by_merchant) == ["west"]
    assert quiet.merchant_duties.by_merchant == {}
    assert counts(quiet.merchant_duties.overall) == (0, 0, 0, 0, 0, 0, 0)
    assert rates(quiet.merchant_duties.overall) == (None, None, None, None)
    text = render_text(quiet)
    assert "By merchant (1, worst breach rate first)" in text
    assert "Merchant duties" not in text
    assert "auto-agreed" not in text and "silence share" not in text

    empty = await build_report(conn, datetime(2001, 1, 1, tzinfo=UTC),
                               datetime(2001, 2, 1, tzinfo=UTC))
    assert empty.merchant_duties.by_merchant == {}
    assert "Merchant duties" not in render_text(empty)
    pytest.importorskip("matplotlib")
    page = render_html(quiet)
    assert "Merchant duties" not in page and "<dt>auto-agreed</dt>" not in page


# ---------------------------------------------------------------------------------------------
# What the engine records

ENGINE_SINCE = datetime(2022, 11, 1, tzinfo=UTC)
POLICY = load_policy(None)
SIGNED = {"signed_at": (ENGINE_SINCE - timedelta(days=1)).isoformat()}
RETURN_REQUEST = {"remedy": "return_refund", "reason": "no_reason", "order": SIGNED}


def opened_with_request(case_id: str, merchant: str, opened: datetime) -> CaseMachine:
    case = intake(case_id=case_id, merchant_id=merchant, order_amount="2000.00",
                  request=RETURN_REQUEST)
    return CaseMachine.open(case.key, case, POLICY.snapshot(opened), opened)


async def test_the_figures_read_what_the_engine_records(conn: asyncpg.Connection) -> None:
    tag = uuid.uuid4().hex[:8]
    opened = ENGINE_SINCE + timedelta(days=3)
    # Alpha never answers: the request is agreed at its deadline, the buyer ships the goods back,
    # and alpha lets the delivered return run out too, so the goods pass and the buyer is refunded.
    alpha = opened_with_request(f"rde{tag}a", "alpha", opened)
    deadline = alpha.state.clocks[ClockName.MERCHANT_ANSWER].due_at
    assert deadline is not None
    alpha.fire_due(deadline)
    alpha.apply("return_shipped", ReturnShipped(carrier="sf", tracking_number="SF100200"),
                deadline + HOUR)
    alpha.apply("return_delivered", ReturnDelivered(), deadline + 24 * HOUR)
    deadline = alpha.state.clocks[ClockName.DELIVERED_RETURN].due_at
    assert deadline is not None
    alpha.fire_due(deadline)
    # Beta tries to reject a no-reason return, which the law entitles, is refused, and agrees by
    # hand two hours after the request: in time.
    beta = opened_with_request(f"rde{tag}b", "beta", opened + HOUR)
    with pytest.raises(NotAuthorized):
        rejection = MerchantAnswer(decision=Decision.REJECT, reason="opened box")
        beta.apply("answer_request", rejection, opened + 2 * HOUR)
    beta.apply("answer_request", MerchantAnswer(decision=Decision.AGREE), opened + 3 * HOUR)
    for machine in (alpha, beta):
        await insert_machine_case(conn, machine)

    report = await build_report(conn, ENGINE_SINCE, ENGINE_SINCE + timedelta(days=30))
    duties = report.merchant_duties
    assert list(duties.by_merchant) == ["alpha", "beta"]
    # alpha: 1 request, its deadline breached (agreed by silence), 1 delivered return refunded by
    # silence; beta: 1 request answered in time, 1 rejection refused, no return delivered yet.
    assert counts(duties.by_merchant["alpha"]) == (1, 1, 0, 1, 1, 1, 0)
    assert counts(duties.by_merchant["beta"]) == (1, 1, 1, 0, 0, 0, 1)
    assert rates(duties.overall) == pytest.approx((1 / 2, 1 / 2, 1.0, 2 / 3))
