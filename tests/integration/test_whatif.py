"""`aftersales whatif` over real audit trails: the golden scenarios (tests/support/golden.py) run on the
time-skipping server against a PostgreSQL of this module's own, with the golden roster (one
team, two agents), and the what-if reads them back from there.

Under the default policy, the one the cases ran on, every case must replay exactly: the same
audit events (type, actor, instant, data) and the same end. Under a tighter first-response
target the extra breaches are worked out from the recorded trails themselves, so the test holds
however the scenarios change. The CLI is run in-process for its output and its one-line errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.db import create_pool
from activities.roster.postgres import PostgresRoster
from activities.schema import migrate
from cases.models import ClockName
from cases.policy.snapshot import PolicyError, load_policy
from cases.routing.models import Presence
from devstack.postgres import EmbeddedPostgres
from reports.whatif.command import add_whatif_parser, run_whatif
from reports.whatif.figures import WhatIf
from reports.whatif.html import render_html
from reports.whatif.query import recorded_cases
from reports.whatif.render import render_json, render_text
from reports.whatif.run import Snapshots, build_whatif, replay_case
from reports.whatif.timeline import Timeline
from runtime.errors import UserError
from runtime.settings import Settings
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support import golden
from tests.support.clock import skip
from tests.support.factories import intake

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "cases" / "default_policy.toml"
# One case beside the golden ones whose free texts carry a customer's name and phone number.
PERSONAL_CASE = "whatif-personal"
NAME, PHONE = "Zhang Xiaoming", "+8613912345678"


async def _no_write(name: str, history: Any) -> None:
    """The golden recorder writes history files; this test only needs the database."""


@pytest.fixture(scope="module")
async def recorded(env: WorkflowEnvironment) -> AsyncIterator[tuple[str, datetime, datetime]]:
    """The golden scenarios' cases in a database of their own: (dsn, since, until)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        dsn = server.start()
        try:
            await migrate(dsn)
            pool = await create_pool(dsn)
            try:
                policy = load_policy(None)
                roster = PostgresRoster(pool, policy.calendar)
                await roster.add_team(golden.TEAM, [], None, "lead-cs")
                for agent in golden.AGENTS:
                    await roster.add_agent(agent, golden.TEAM, [], 2, Presence.AVAILABLE, datetime.now(UTC))
                since = await env.get_current_time() - timedelta(minutes=1)
                patch = pytest.MonkeyPatch()
                patch.setattr(golden, "_write", _no_write)
                try:
                    async with case_worker(env.client, pool, policy) as task_queue:
                        client = CaseClient(env.client, task_queue)
                        for scenario in golden.SCENARIOS.values():
                            await scenario(env, client)
                        await _personal_case(env, client)
                finally:
                    patch.undo()
                until = await env.get_current_time() + timedelta(days=1)
            finally:
                # Closed on every path: a pool left open on a stopped server keeps reconnecting
                # in the session's event loop through every later test.
                await pool.close()
            yield dsn, since, until
        finally:
            server.stop()


async def _personal_case(env: WorkflowEnvironment, client: CaseClient) -> None:
    """Refunded, then the customer writes 60 h later (within the 72 h to confirm) and confirms."""
    person = {"id": "cust-pii", "name": NAME, "phone": PHONE}
    case = intake(case_id=PERSONAL_CASE, customer=person, category="product_quality",
                  description=f"Broken on arrival, {NAME} here")
    await client.open(case)
    await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
    await client.act(case.case_id, "note", {"actor": "agent-1", "text": f"customer says call {PHONE}"})
    await client.act(case.case_id, "propose_resolution", {"actor": "agent-1", "type": "refund", "amount": "50"})
    await skip(env, timedelta(hours=60))
    await client.act(case.case_id, "customer_message", {"text": f"Call me on {PHONE}, {NAME}"})
    await client.act(case.case_id, "agent_reply", {"actor": "agent-1", "text": f"Will do, {NAME}."})
    await client.act(case.case_id, "confirm", {})
    state = await client.act(case.case_id, "rate", {"score": 2, "comment": f"{NAME}: too slow"})
    if state.status.value == "follow_up":
        await skip(env, timedelta(seconds=1))
        await client.act(case.case_id, "follow_up_result", {"actor": "agent-9", "outcome": "satisfied"})


async def _timelines(dsn: str, since: datetime, until: datetime) -> list[Timeline]:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(readonly=True):
            found: list[Timeline] = []
            async for batch in recorded_cases(conn, since, until, datetime.now(UTC), batch=7):
                assert all(isinstance(t, Timeline) for t in batch), batch
                found += [t for t in batch if isinstance(t, Timeline)]
            return found
    finally:
        await conn.close()


async def _whatif(
    dsn: str, since: datetime, until: datetime, policy_path: Path, case_ids: list[str] | None = None
) -> WhatIf:
    conn = await asyncpg.connect(dsn)
    try:
        return await build_whatif(conn, since, until, load_policy(policy_path), policy_path.name,
                                  case_ids=case_ids)
    finally:
        await conn.close()


async def test_every_golden_case_replays_exactly_under_the_default_policy(recorded: Any) -> None:
    dsn, since, until = recorded
    timelines = await _timelines(dsn, since, until)
    # Every scenario opens one case but `routing`, which opens five (four seats and the one
    # that waits), and `three_guarantees_after_repairs`, which opens three (two repairs of the item
    # before the claim), and the personal-data case: read in batches of 7, so in four batches.
    assert len(timelines) == len(golden.SCENARIOS) - 2 + 5 + 3 + 1
    snapshots = Snapshots(load_policy(None))
    differences: list[str] = []
    for timeline in timelines:
        assert not timeline.unmapped, (timeline.case_id, timeline.unmapped)
        replayed, diffs = replay_case(timeline, snapshots)
        assert replayed.error is None, (timeline.case_id, replayed.error)
        assert not replayed.refused, (timeline.case_id, replayed.refused)
        differences += diffs
    assert differences == [], "\n".join(differences)
    # The paths the scenarios take are all there: breaches, bypasses, queueing, lapses.
    kinds = {e.type for t in timelines for e in t.recorded}
    assert {"clock_breached", "assignment_bypassed", "queued", "return_lapsed",
            "accepted_by_silence", "follow_up_result", "reopened", "request_agreed_by_silence",
            "rejection_refused", "return_delivered", "platform_pays_first", "recovery_settled", "appealed",
            "ruling_confirmed"} <= kinds
    # The third claim on the twice-repaired item read its two repairs, and the replay too.
    claim = next(t for t in timelines if t.case_id == "golden-item-3")
    assert claim.final.request is not None
    assert claim.final.request.eligibility.rule == "three_guarantees_after_repairs"

    report = await _whatif(dsn, since, until, DEFAULT_POLICY)
    assert report.counts.changed_cases == 0 and report.counts.failed_cases == 0
    assert report.counts.refused == 0 and report.counts.results_skipped == 0
    assert report.overall.actual == report.overall.candidate
    assert report.overall.actual.cases == len(timelines)
    breaches = sum(1 for t in timelines for e in t.recorded if e.type == "clock_breached")
    assert report.overall.actual.breaches == breaches > 0


async def test_a_tighter_first_response_target_shows_the_extra_breaches(
    recorded: Any, tmp_path: Path
) -> None:
    dsn, since, until = recorded
    timelines = await _timelines(dsn, since, until)
    # Every tier's first response due within a minute. Worked out from the record: a first
    # response met on time but after more than 60 s of counted time becomes a breach, and so
    # does one never given (the case withdrawn) once more than 60 s had counted; a breached
    # one stays breached.
    tight = tmp_path / "tight.toml"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    tight.write_text(_with_first_response(text, "1m"), encoding="utf-8")
    slow = unmet = 0
    for t in timelines:
        for e in t.recorded:
            if e.type == "clock_met" and e.data.get("clock") == "first_response" and e.data.get("on_time"):
                slow += e.data["elapsed_seconds"] > 60
        clock = t.final.clocks.get(ClockName.FIRST_RESPONSE)
        if clock is not None and clock.stopped_at is not None and clock.met_at is None:
            unmet += clock.breached_at is None and clock.consumed_seconds > 60
    expected_extra = slow + unmet
    assert slow > 0 and unmet > 0

    report = await _whatif(dsn, since, until, tight)
    fr_actual = report.overall.actual.clocks["first_response"]
    fr_candidate = report.overall.candidate.clocks["first_response"]
    assert fr_candidate.breached - fr_actual.breached == expected_extra
    assert fr_candidate.on_time == fr_actual.on_time - slow
    assert fr_candidate.decided == fr_actual.decided + unmet
    # Each extra breach escalates once (a case at level 1 still counts its escalation).
    assert report.overall.candidate.escalations - report.overall.actual.escalations == expected_extra
    assert report.counts.failed_cases == 0


async def test_a_shorter_answer_deadline_agrees_by_silence_sooner(recorded: Any, tmp_path: Path) -> None:
    """The merchant's answer clock is a clock like any other: a candidate's `platform.answer_within`
    moves the instant its silence agrees, and the refund with it."""
    dsn, since, until = recorded
    [silent] = [t for t in await _timelines(dsn, since, until) if t.case_id == "golden-silence-refund"]
    quick = tmp_path / "quick.toml"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert 'answer_within = "48h"' in text
    quick.write_text(text.replace('answer_within = "48h"', 'answer_within = "24h"'), encoding="utf-8")
    replayed, diffs = replay_case(silent, Snapshots(load_policy(quick)))
    agreed = [e.at for e in replayed.events if e.type == "request_agreed_by_silence"]
    recorded_at = [e.at for e in silent.recorded if e.type == "request_agreed_by_silence"]
    # Each at its deadline, give or take the few milliseconds between a timer and its task.
    assert [round((at - silent.opened_at).total_seconds()) for at in agreed] == [24 * 3600]
    assert [round((at - silent.opened_at).total_seconds()) for at in recorded_at] == [48 * 3600]
    assert diffs and not replayed.refused and replayed.final.status == silent.final.status


async def test_no_rendering_holds_what_a_person_wrote(recorded: Any, tmp_path: Path) -> None:
    dsn, since, until = recorded
    # Silence accepted after 48 h: the replay accepts where the record holds the customer's
    # message (its first departure), so the example line is about an event full of words.
    candidate = tmp_path / "short_window.toml"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert 'confirmation_window = "72h"' in text
    candidate.write_text(text.replace('confirmation_window = "72h"', 'confirmation_window = "48h"'),
                         encoding="utf-8")
    report = await _whatif(dsn, since, until, candidate, [PERSONAL_CASE])
    assert report.overall.actual.cases == 1 and report.counts.failed_cases == 0
    (line,) = report.counts.examples
    assert line.startswith(f"{PERSONAL_CASE}: event ") and "recorded customer_message at" in line
    assert "replayed accepted_by_silence at" in line and line.endswith("differs in actor, text")
    pages = [render_text(report), render_json(report)]
    if importlib.util.find_spec("matplotlib") is not None:
        pages.append(render_html(report))
    for page in pages:
        assert PERSONAL_CASE in page
        for secret in (NAME, PHONE, "Zhang", "8613912345678", "too slow"):
            assert secret not in page


def _with_first_response(text: str, target: str) -> str:
    """The policy text with every tier's and override's first_response set to `target`."""
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("first_response") and "=" in line:
            line = f'first_response = "{target}"'
        lines.append(line)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The command


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aftersales")
    add_whatif_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["whatif", *argv])


async def test_the_command_prints_text_json_and_html(
    recorded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn, since, until = recorded
    monkeypatch.setenv("DATABASE_URL", dsn)
    period = ["--since", since.isoformat(), "--until", until.isoformat()]
    await run_whatif(_args("--policy", str(DEFAULT_POLICY), *period), Settings.from_env())
    out = capsys.readouterr().out
    assert "What if:" in out and "0 cases replayed differently from their record" in out
    assert "first response" in out

    out_file = tmp_path / "whatif.json"
    await run_whatif(
        _args("--policy", str(DEFAULT_POLICY), *period, "--format", "json", "-o", str(out_file)),
        Settings.from_env(),
    )
    report = WhatIf.model_validate_json(out_file.read_text(encoding="utf-8"))
    assert json.loads(out_file.read_text())["counts"]["changed_cases"] == 0
    assert report.overall.actual.cases > 0

    pytest.importorskip("matplotlib")
    page = render_html(report)
    assert page.count('src="data:image/png;base64,') == 2
    assert "http://" not in page and "https://" not in page


async def test_bad_input_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    settings = Settings.from_env()
    with pytest.raises(PolicyError, match="file not found"):
        await run_whatif(_args("--policy", str(tmp_path / "missing.toml")), settings)
    broken = tmp_path / "broken.toml"
    broken.write_text("warning_fraction = [", encoding="utf-8")
    with pytest.raises(PolicyError, match="TOML syntax error"):
        await run_whatif(_args("--policy", str(broken)), settings)
    with pytest.raises(UserError, match="--since"):
        await run_whatif(_args("--policy", str(DEFAULT_POLICY), "--since", "yesterday"), settings)
    with pytest.raises(UserError, match="must be before"):
        await run_whatif(
            _args("--policy", str(DEFAULT_POLICY), "--since", "2025-02-01", "--until", "2025-01-01"),
            settings,
        )


async def test_a_merchant_what_if_replays_that_merchants_cases_under_its_own_file(
    recorded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn, since, until = recorded
    monkeypatch.setenv("DATABASE_URL", dsn)
    period = ["--since", since.isoformat(), "--until", until.isoformat()]
    own, looser = tmp_path / "acme.toml", tmp_path / "looser.toml"
    own.write_text('[targets.general]\nfirst_response = "24h"\n', encoding="utf-8")
    looser.write_text('[targets.general]\nfirst_response = "48h"\n', encoding="utf-8")
    out_file = tmp_path / "acme.json"
    await run_whatif(
        _args("--policy", str(own), "--merchant", "acme", *period, "--format", "json", "-o", str(out_file)),
        Settings.from_env(),
    )
    report = WhatIf.model_validate_json(out_file.read_text(encoding="utf-8"))
    assert report.overall.actual.cases == 1  # the golden general path, opened by merchant acme
    assert json.loads(out_file.read_text())["counts"]["changed_cases"] == 0
    with pytest.raises(PolicyError, match=r"^targets\.general\.first_response: "):
        await run_whatif(_args("--policy", str(looser), "--merchant", "acme", *period), Settings.from_env())
    with pytest.raises(UserError, match="^--merchant: "):
        await run_whatif(_args("--policy", str(own), "--merchant", "Not An Id", *period), Settings.from_env())
