"""Update → record latency: `acknowledge` on a registered case, from the client's call to the
return, which comes only after the audit row is committed. After every call the row is read back
from PostgreSQL: it must exist, and its `recorded_at` (the writing transaction's start) must fall
between the call and the return. Baseline: the same `acknowledge` on the business-minimal no-op,
which answers in the workflow task that receives it. Real and baseline calls alternate, one at a
time, so both see the same load. The steps of each update are read from its history's event
times, whether the record is an activity task, a local activity or something else.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.api.history.v1 import HistoryEvent

from bench.drivers import BaselineTarget, RealTarget, Target
from bench.e2e import fetch_histories
from bench.env import BenchEnv, WorkerProcess
from bench.memory import _open_all
from bench.plan import Plan
from bench.report import Report, percentile, progress
from cases.policy.snapshot import Policy

# PostgreSQL's now() and this process's clock are the same host clock; allow rounding only.
_SLACK = timedelta(milliseconds=2)


@dataclass
class _Samples:
    """The timed calls: each side's latencies and call windows, and what the audit rows showed."""

    real_ms: list[float] = field(default_factory=list)
    base_ms: list[float] = field(default_factory=list)
    calls: dict[str, dict[str, tuple[float, float]]] = field(default_factory=lambda: {"real": {}, "base": {}})
    after_commit_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def measure(
    env: BenchEnv,
    rep: Report,
    *,
    samples: int,
    policy: Policy,
    plan: Plan,
    real_worker: WorkerProcess,
    base_worker: WorkerProcess,
) -> None:
    section = f"2. update -> record latency ({samples} acknowledge updates, one at a time)"
    real = RealTarget(env.client, real_worker.task_queue, policy)
    base = BaselineTarget(env.client, base_worker.task_queue, {0: plan})
    ids = [f"lat-{env.run_id}-{i:04d}" for i in range(samples)]
    await _open(env, real, base, ids)
    got = await _sample(env, real, base, ids)
    _report_latency(rep, section, got)
    how_r, how_b = await _report_steps(env, rep, section, real, base, got)
    _report_audit(rep, section, got)
    rep.note(section, f"steps from the history's event times; real: {how_r}; no-op: {how_b}")
    _judge(rep, got)


async def _open(env: BenchEnv, real: RealTarget, base: BaselineTarget, ids: list[str]) -> None:
    progress(f"  opening {len(ids)} cases and {len(ids)} no-op workflows ...")
    await asyncio.gather(
        _open_all(lambda c: real.open(c, 0), ids, 16),
        _open_all(lambda c: base.open(c, 0), ids, 16),
    )
    # Wait until every case finished its opening activities, so each update finds it idle.
    while (
        await env.pool.fetchval(
            "SELECT count(*) FROM notifications WHERE kind = 'acknowledgement' AND channel = 'sms'"
            " AND case_id = ANY($1)",
            ids,
        )
        < len(ids)
    ):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)


async def _sample(env: BenchEnv, real: RealTarget, base: BaselineTarget, ids: list[str]) -> _Samples:
    got = _Samples()
    for n, case_id in enumerate(ids):
        order = ("real", "base") if n % 2 == 0 else ("base", "real")
        for kind in order:
            target: Target = real if kind == "real" else base
            wall0, wall1 = await _timed_acknowledge(target, case_id, got.real_ms if kind == "real" else got.base_ms)
            got.calls[kind][case_id] = (wall0, wall1)
            if kind == "real":
                await _check_record(env, case_id, wall0, wall1, got)
    return got


async def _timed_acknowledge(target: Target, case_id: str, into: list[float]) -> tuple[float, float]:
    """Append the call's milliseconds to `into`; return its wall-clock start and end."""
    wall0 = time.time()
    t0 = time.perf_counter()
    await target.act(case_id, "acknowledge", {"actor": "agent-1"})
    elapsed = time.perf_counter() - t0
    wall1 = time.time()
    into.append(elapsed * 1000)
    return wall0, wall1


async def _check_record(env: BenchEnv, case_id: str, wall0: float, wall1: float, got: _Samples) -> None:
    """The audit row must be visible on return, written by a transaction that began during the call."""
    recorded = await env.pool.fetchval(
        "SELECT recorded_at FROM case_events WHERE case_id = $1 AND type = 'acknowledged'",
        case_id,
    )
    if recorded is None:
        got.problems.append(f"{case_id}: no audit row when the update returned")
        return
    at = recorded.timestamp()
    if not (wall0 - _SLACK.total_seconds() <= at <= wall1 + _SLACK.total_seconds()):
        got.problems.append(f"{case_id}: recorded_at outside the call ({at - wall0:+.3f}s)")
    got.after_commit_ms.append((wall1 - at) * 1000)


def _report_latency(rep: Report, section: str, got: _Samples) -> None:
    real_ms, base_ms = got.real_ms, got.base_ms
    for p in (50, 90, 99):
        rep.add(section, f"p{p}", percentile(real_ms, p), percentile(base_ms, p), "ms", "{:.1f}")
    rep.add(section, "max", max(real_ms), max(base_ms), "ms", "{:.1f}")
    rep.add(
        section, "mean", sum(real_ms) / len(real_ms), sum(base_ms) / len(base_ms), "ms", "{:.1f}"
    )
    rep.add(
        section,
        "record tx start -> update returned p50",
        percentile(got.after_commit_ms, 50),
        None,
        "ms",
        "{:.1f}",
    )


async def _report_steps(
    env: BenchEnv, rep: Report, section: str, real: RealTarget, base: BaselineTarget, got: _Samples
) -> tuple[str, str]:
    """Add the p50 of each step; return how the updates ran on each side (real, no-op)."""
    steps_r, how_r = await _steps(env, real, got.calls["real"])
    steps_b, how_b = await _steps(env, base, got.calls["base"])
    for name in dict.fromkeys([*steps_r, *steps_b]):
        r, b = steps_r.get(name), steps_b.get(name)
        rep.add(
            section,
            f"  step: {name} p50",
            percentile(r, 50) if r else math.nan,
            percentile(b, 50) if b else None,
            "ms",
            "{:.1f}",
        )
    return how_r, how_b


def _report_audit(rep: Report, section: str, got: _Samples) -> None:
    if got.problems:
        rep.note(section, f"READ-YOUR-WRITES VIOLATIONS: {len(got.problems)}: {got.problems[:3]}")
    else:
        rep.note(
            section,
            f"all {len(got.real_ms)} audit rows were committed and visible when the update "
            f"returned; recorded_at always between call and return",
        )


def _judge(rep: Report, got: _Samples) -> None:
    problems = got.problems
    p99_r, p99_b = percentile(got.real_ms, 99), percentile(got.base_ms, 99)
    rep.target(
        "update->record p99 <= 1.5 x no-op update p99, audit row committed on return",
        p99_r <= 1.5 * p99_b and not problems,
        f"{p99_r:.1f} vs {p99_b:.1f} ms = {p99_r / p99_b:.2f}x; "
        + (f"{len(problems)} read-your-writes violation(s)" if problems else "every row committed"),
    )


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1e6


_ACCEPTED = "workflow_execution_update_accepted_event_attributes"
_DONE = "workflow_execution_update_completed_event_attributes"


async def _steps(
    env: BenchEnv, target: Target, calls: dict[str, tuple[float, float]]
) -> tuple[dict[str, list[float]], str]:
    """Where the time of each acknowledge went, from its events' times (server clock = ours)."""
    histories = await fetch_histories(env.client, [target.workflow_id(c) for c in calls])
    steps: dict[str, list[float]] = {}
    shapes: Counter[str] = Counter()

    def add(name: str, seconds: float) -> None:
        steps.setdefault(name, []).append(seconds * 1000)

    for history, (wall0, wall1) in zip(histories, calls.values(), strict=True):
        events = list(history.events)
        kinds: list[str] = [e.WhichOneof("attributes") or "" for e in events]
        try:
            accepted = max(i for i, k in enumerate(kinds) if k == _ACCEPTED)
            done = kinds.index(_DONE, accepted)
        except ValueError:
            continue
        # The workflow tasks from the one that accepted the update to the one that completed it.
        first = max(i for i in range(accepted) if kinds[i] == "workflow_task_started_event_attributes")
        between = range(first, done)
        tasks = [i for i in between if kinds[i] == "workflow_task_started_event_attributes"]
        activities = sum(1 for i in between if kinds[i] == "activity_task_scheduled_event_attributes")
        markers = sum(1 for i in between if kinds[i] == "marker_recorded_event_attributes")
        shapes[f"{len(tasks)} workflow task(s), {activities} activity task(s), {markers} local activity marker(s)"] += 1
        add("call -> 1st workflow task started", _at(events[first]) - wall0)
        for n, start in enumerate(tasks):
            end = kinds.index("workflow_task_completed_event_attributes", start)
            add(f"workflow task {n + 1} ran", _at(events[end]) - _at(events[start]))
            if n + 1 < len(tasks):
                add(f"workflow task {n + 1} done -> task {n + 2} started", _at(events[tasks[n + 1]]) - _at(events[end]))
        add("update completed -> client has answer", wall1 - _at(events[done]))
    how = "; ".join(f"{shape} ({count})" for shape, count in shapes.most_common()) or "no steps found"
    return steps, how
