"""What-if: cases/s replaying past cases from PostgreSQL under a candidate policy.

`python -m bench.whatif [--cases 10000]` on its own, or `python -m bench --only whatif`. It
writes synthetic past cases (opened over a quarter, each driven through the pure `CaseMachine`
the way the workflow drives it: wakes fired between actions, the roster answering that it has no
team) straight into `cases`, `case_events` and `routing_answers` (the roster's answer to each of
the case's calls, one or two per case as in production) of an embedded PostgreSQL, then times
`build_whatif` end to end: reading every case and its audit trail from PostgreSQL, replaying it,
comparing it and counting it. Under the default policy every case must replay exactly; the
candidate (first response due in a quarter of the time) is the figure to quote. The target is
10,000 cases in under 30 s on the 2-core bench machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from activities.schema import migrate
from bench.report import Report, progress
from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine
from cases.models import CaseIntake
from cases.policy.snapshot import Policy, PolicySnapshot, load_policy
from cases.routing import placement
from cases.routing.models import RoutingChange, RoutingOp, RoutingResult, RoutingStatus
from devstack.postgres import EmbeddedPostgres
from reports.whatif.parallel import default_workers, whatif_from_database

SECTION = "whatif (replaying past cases from PostgreSQL)"
TARGET_SECONDS = 30.0
TARGET_CASES = 10_000
SINCE = datetime(2025, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 4, 1, tzinfo=UTC)
CASE_COLUMNS = (
    "case_id", "workflow_id", "order_id", "customer_id", "customer_tier", "channel", "category",
    "tier", "status", "escalation_level", "order_amount", "currency", "opened_at",
    "reopen_count", "escalations", "sla_state", "last_seq", "state",
)
EVENT_COLUMNS = ("case_id", "seq", "type", "actor", "at", "data")


def _intake(n: int, rng: random.Random) -> CaseIntake:
    kind = rng.random()
    return CaseIntake.model_validate({
        "case_id": f"wi-{n:06d}", "order_id": f"o-{n}", "channel": "app",
        "category": "safety" if kind < 0.1 else "product_quality",
        "description": "The charger began to smoke." if kind < 0.1 else "The left earbud is silent.",
        "order_amount": "6000.00" if kind > 0.8 else "300.00",
        "customer": {"id": f"c-{n}", "phone": "+8613800000000",
                     "tier": "vip" if rng.random() < 0.1 else "standard"},
    })


class _Drive:
    """One case driven as the workflow would: wakes fired up to each action, then the action."""

    def __init__(self, m: CaseMachine) -> None:
        self.m = m
        self.now = m.state.opened_at
        self.answers: list[tuple[str, str]] = []  # (key, result) as `routing_answers` keeps them
        self.roster(self.now)

    def roster(self, now: datetime) -> None:
        state = self.m.state
        op = placement.pending(state)
        if state.routing is not None and op is not None:
            key = placement.request(self.m, now).key
            change = RoutingChange(case_id=state.case_id, workflow_id=state.workflow_id, seq=0,
                                   status=RoutingStatus.UNROUTED, at=now)
            self.answers.append((key, RoutingResult(change=change).model_dump_json()))
            self.m.routing_settled(op, change, now, state.routing.take_agent)
            assert op != RoutingOp.RELEASE or state.routing.op is None

    def until(self, at: datetime) -> None:
        while (wake := self.m.next_wake()) is not None and wake[0] < at:
            self.m.fire_due(wake[0])
        self.now = at

    def act(self, after: timedelta, action: str, **data: Any) -> bool:
        self.until(self.now + after)
        try:
            self.m.apply(action, ACTION_MODELS[action].model_validate(data), self.now)
        except ValueError:
            return False
        self.m.fire_due(self.now)
        self.roster(self.now)
        return True


def synthetic_case(n: int, snapshot: PolicySnapshot) -> tuple[Any, list[Any], list[tuple[str, str]]]:
    """A case opened in the quarter and driven to its end (or left open near the quarter's end)."""
    rng = random.Random(n)
    opened = SINCE + timedelta(seconds=rng.randrange(int((UNTIL - SINCE).total_seconds()) - 30 * 86400))
    m = CaseMachine.open(f"wi-{n:06d}", _intake(n, rng), snapshot, opened)
    d = _Drive(m)

    def minutes(lo: float, hi: float) -> timedelta:
        return timedelta(minutes=rng.uniform(lo, hi))

    if rng.random() < 0.05:
        d.act(minutes(5, 600), "withdraw", reason="changed my mind")
    else:
        d.act(minutes(2, 240 if m.state.tier.value != "urgent" else 90), "acknowledge", actor="agent-1")
        if rng.random() < 0.3:
            d.act(minutes(5, 60), "request_info", actor="agent-1", question="A photo, please?")
            d.act(minutes(30, 2000), "customer_reply", text="Attached.")
            if rng.random() < 0.8:
                d.act(minutes(5, 400), "agent_reply", actor="agent-1", text="Thanks, checking.")
        amount = str(Decimal(rng.choice(["99.00", "299.00", "800.00"])))
        d.act(minutes(10, 1500), "propose_resolution", actor="agent-1", type="refund", amount=amount)
        if m.state.status.value == "awaiting_approval":
            d.act(minutes(10, 400), "approve", actor="supervisor-1", role="supervisor")
        if m.state.status.value == "resolving":
            d.until(d.now + timedelta(seconds=3))
            m.resolution_executed([], d.now)
        if rng.random() < 0.7:
            d.act(minutes(30, 3000), "confirm")
        d.until(d.now + minutes(10, 100))
        d.act(minutes(1, 3000), "rate", score=rng.choice([2, 4, 5, 5]))
        if m.state.status.value == "follow_up":
            d.until(d.now + timedelta(seconds=5))
            m.follow_up_scheduled(f"FU-{n}", m.follow_up_due(), d.now)
            d.until(m.follow_up_due() + timedelta(hours=2))
            d.act(timedelta(0), "follow_up_result", actor="agent-9", outcome="satisfied")
    # Silence ends what the customer leaves open (confirmation, survey), as it would have.
    for _ in range(50):
        wake = m.next_wake()
        if wake is None:
            break
        d.until(wake[0] + timedelta(microseconds=1))
    d.roster(d.now)  # an ended case gives its seat back
    return m.state, m.events, d.answers


async def write_cases(conn: asyncpg.Connection, policy: Policy, cases: int) -> tuple[int, int]:
    """Write `cases` synthetic cases; returns the numbers of audit events and roster answers."""
    snapshot = policy.snapshot(SINCE)
    case_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    answer_rows: list[tuple[str, str]] = []
    for n in range(cases):
        state, events, answers = synthetic_case(n, snapshot)
        answer_rows += answers
        intake = state.intake
        case_rows.append((
            state.case_id, state.workflow_id, intake.order_id, intake.customer.id,
            intake.customer.tier.value, intake.channel.value, state.category.value, state.tier.value,
            state.status.value, state.escalation_level, intake.order_amount, intake.currency,
            state.opened_at, state.reopen_count, state.escalations, state.sla_state, state.last_seq,
            state.model_dump_json(),
        ))
        event_rows += [
            (state.case_id, e.seq, e.type, e.actor, e.at, json.dumps(e.model_dump(mode="json")["data"]))
            for e in events
        ]
    await conn.copy_records_to_table("cases", records=case_rows, columns=CASE_COLUMNS)
    await conn.copy_records_to_table("case_events", records=event_rows, columns=EVENT_COLUMNS)
    await conn.copy_records_to_table("routing_answers", records=answer_rows, columns=("key", "result"))
    # Vacuumed now, so autovacuum does not wake for the fresh rows in the middle of a timing.
    await conn.execute("VACUUM (FREEZE, ANALYZE) cases")
    await conn.execute("VACUUM (FREEZE, ANALYZE) case_events")
    await conn.execute("VACUUM (FREEZE, ANALYZE) routing_answers")
    return len(event_rows), len(answer_rows)


def tighter(policy_text: str) -> str:
    """The candidate: every first-response target a quarter of the default's."""
    quarter = {'"1h"': '"15m"', '"24h"': '"6h"', '"15m"': '"4m"', '"4h"': '"1h"'}
    out = []
    for line in policy_text.splitlines():
        if line.strip().startswith("first_response") and "=" in line:
            value = line.split("=", 1)[1].split("#", 1)[0].strip()
            line = f"first_response = {quarter.get(value, value)}"
        out.append(line)
    return "\n".join(out) + "\n"


async def measure(rep: Report, dsn: str, cases: int, workdir: Path) -> None:
    policy = load_policy(None)
    conn = await asyncpg.connect(dsn)
    try:
        progress(f"whatif: writing {cases} synthetic past cases")
        t0 = time.perf_counter()
        events, answers = await write_cases(conn, policy, cases)
        progress(f"  {events} audit events, {answers} roster answers in {time.perf_counter() - t0:.1f} s")
        same = await whatif_from_database(conn, dsn, SINCE, UNTIL, policy, "default")
        candidate_file = workdir / "candidate.toml"
        default_text = (Path(__file__).resolve().parents[1] / "cases" / "default_policy.toml").read_text()
        candidate_file.write_text(tighter(default_text), encoding="utf-8")
        workers = default_workers()
        t0 = time.perf_counter()
        changed = await whatif_from_database(
            conn, dsn, SINCE, UNTIL, load_policy(candidate_file), "candidate", workers=workers
        )
        elapsed = time.perf_counter() - t0
        t1 = time.perf_counter()
        one = await whatif_from_database(
            conn, dsn, SINCE, UNTIL, load_policy(candidate_file), "candidate", workers=1
        )
        single = time.perf_counter() - t1
    finally:
        await conn.close()
    n = changed.overall.actual.cases
    rep.add(SECTION, "cases replayed", n, None, "cases", "{:.0f}")
    rep.add(SECTION, "audit events read", events, None, "events", "{:.0f}")
    rep.add(SECTION, "roster answers read", answers, None, "answers", "{:.0f}")
    rep.add(SECTION, "whatif under the candidate", elapsed, None, "s",
            note=f"read + replay + count, {workers} process(es) for the free cores")
    rep.add(SECTION, "whatif rate", n / elapsed, None, "cases/s", "{:.0f}")
    rep.add(SECTION, "whatif in one process", single, None, "s",
            note=f"{n / single:.0f} cases/s; same figures: {one.overall == changed.overall}")
    rep.add(SECTION, "whatif under the default policy", same.seconds, None, "s")
    rep.note(SECTION, f"default policy: {same.counts.changed_cases} of {n} cases differ from "
                      f"their record ({same.counts.failed_cases} failed)")
    a, c = changed.overall.actual, changed.overall.candidate
    rep.note(SECTION, f"candidate: breaches {a.breaches} -> {c.breaches}, escalations "
                      f"{a.escalations} -> {c.escalations}, refused actions {changed.counts.refused}")
    scaled = elapsed * TARGET_CASES / n if n else float("inf")
    rep.target(f"whatif {TARGET_CASES:,} cases < {TARGET_SECONDS:.0f} s", scaled < TARGET_SECONDS,
               f"{elapsed:.1f} s for {n} cases ({n / elapsed:.0f} cases/s)")
    rep.target("whatif under the default policy reproduces every case",
               same.counts.changed_cases == 0 and same.counts.failed_cases == 0,
               f"{same.counts.changed_cases} differ, {same.counts.failed_cases} failed")


async def _main(cases: int) -> int:
    rep = Report()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = await asyncio.to_thread(server.start)
        try:
            await migrate(dsn)
            await measure(rep, dsn, cases, Path(tmp))
        finally:
            server.stop()
    print(rep.render())
    return 0 if all(t.holds for t in rep.targets) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__)
    parser.add_argument("--cases", type=int, default=TARGET_CASES)
    return asyncio.run(_main(parser.parse_args(argv).cases))


if __name__ == "__main__":
    raise SystemExit(main())
