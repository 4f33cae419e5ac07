"""Task priority under saturation (STANDARDS S12.4): does an urgent case get its first response
sooner than a general one when the workers cannot keep up?

A backlog of general cases and, behind them, a smaller number of urgent ones is started while no
worker serves the task queue; then one starved worker (two workflow-task slots) drains it. The
first response is the case's `opened` record: the instant its first workflow task ran, recorded
in the audit trail. The figure is the urgent p50 over the general p50, with priority on (the
shipped policy: urgent key 1) and with it off (every key 3, Temporal's default). A ratio well
under 1 with priority on, and near or over 1 with it off, means priority works.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench.drivers import intake
from bench.env import BenchEnv, WorkerProcess
from bench.report import Report, percentile, progress, ratio
from cases.policy.snapshot import load_policy
from starter.client import CaseClient

SECTION = "task priority under saturation"


def _policy_without_priority(folder: Path) -> Path:
    text = (Path(__file__).parents[1] / "cases" / "default_policy.toml").read_text(encoding="utf-8")
    for key in ("urgent_priority = 1", "vip_priority = 2"):
        assert key in text, key
        text = text.replace(key, key.split("=")[0] + "= 3")
    path = folder / "no-priority.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _side(env: BenchEnv, policy_path: Path | None, general: int, urgent: int) -> dict[str, float]:
    task_queue = env.task_queue("prio")
    client = CaseClient(env.client, task_queue, load_policy(policy_path))
    run = uuid.uuid4().hex[:6]
    cases = [intake(f"p{run}g{n}") for n in range(general)]
    cases += [
        intake(f"p{run}u{n}").model_copy(update={"description": "The charger began to smoke."})
        for n in range(urgent)
    ]
    for case in cases:  # urgent last: with no priority they wait behind every general case
        await client.start(case)
    worker = WorkerProcess(env, "real", task_queue, policy=policy_path, extra=("--max-workflow-tasks", "2"))
    await worker.start()
    served_from = datetime.now(UTC)
    ids = [str(c.case_id) for c in cases]
    deadline = time.monotonic() + 600
    while True:
        rows = await env.pool.fetch(
            "SELECT c.case_id, c.tier, e.at FROM cases c JOIN case_events e ON e.case_id = c.case_id "
            "AND e.seq = 1 WHERE c.case_id = ANY($1::text[])",
            ids,
        )
        if len(rows) == len(ids):
            break
        assert time.monotonic() < deadline, f"{len(ids) - len(rows)} case(s) never opened"
        await asyncio.sleep(0.5)
    await worker.stop()
    waits: dict[str, list[float]] = {"urgent": [], "general": []}
    for row in rows:
        waits[row["tier"]].append(max(0.0, (row["at"] - served_from).total_seconds()))
    for case_id in ids:
        await client.handle(case_id).terminate("bench finished")
    return {tier: percentile(values, 50) for tier, values in waits.items()}


async def measure(env: BenchEnv, rep: Report, *, general: int, urgent: int) -> None:
    progress(f"priority: {general} general and {urgent} urgent cases behind them, priority on")
    on = await _side(env, None, general, urgent)
    progress("priority: the same, priority off")
    off = await _side(env, _policy_without_priority(env.tmp), general, urgent)
    rep.add(SECTION, "urgent p50 first response, on", on["urgent"], off["urgent"], "s",
            note="real = priority on, baseline = priority off")
    rep.add(SECTION, "general p50 first response, on", on["general"], off["general"], "s")
    with_priority = ratio(on["urgent"], on["general"])
    without = ratio(off["urgent"], off["general"])
    rep.add(SECTION, "urgent / general p50", with_priority, without, "ratio",
            note="real = priority on, baseline = priority off")
    rep.target(
        "urgent first responses come sooner than general ones under saturation, with priority on",
        with_priority < 0.5 < without,
        f"urgent/general p50 {with_priority:.2f} with priority, {without:.2f} without",
    )
