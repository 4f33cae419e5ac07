"""Update → record latency: `acknowledge` on a registered case, from the client's call to the
return, which comes only after the `record_case` activity committed the audit row. After every
call the row is read back from PostgreSQL: it must exist, and its `recorded_at` (the writing
transaction's start) must fall between the call and the return. Baseline: a `ping` update on the
no-op workflow that returns at once. Real and baseline calls alternate, one at a time, so both
see the same load.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from temporalio.api.history.v1 import HistoryEvent

from bench.drivers import BaselineTarget, RealTarget
from bench.e2e import fetch_histories
from bench.env import BenchEnv, WorkerProcess
from bench.memory import _open_all
from bench.plan import Plan
from bench.report import Report, percentile, progress
from cases.policy import Policy

# PostgreSQL's now() and this process's clock are the same host clock; allow rounding only.
_SLACK = timedelta(milliseconds=2)


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
    progress(f"  opening {samples} cases and {samples} no-op workflows ...")
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
        < samples
    ):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)

    real_ms: list[float] = []
    base_ms: list[float] = []
    calls: dict[str, tuple[float, float]] = {}
    after_commit_ms: list[float] = []
    problems: list[str] = []
    for n, case_id in enumerate(ids):
        order = ("real", "base") if n % 2 == 0 else ("base", "real")
        for kind in order:
            if kind == "base":
                handle = base.handle(case_id)
                t0 = time.perf_counter()
                await handle.execute_update("ping")
                base_ms.append((time.perf_counter() - t0) * 1000)
                continue
            wall0 = time.time()
            t0 = time.perf_counter()
            await real.act(case_id, "acknowledge", {"actor": "agent-1"})
            elapsed = time.perf_counter() - t0
            wall1 = time.time()
            real_ms.append(elapsed * 1000)
            calls[case_id] = (wall0, wall1)
            recorded = await env.pool.fetchval(
                "SELECT recorded_at FROM case_events WHERE case_id = $1 AND type = 'acknowledged'",
                case_id,
            )
            if recorded is None:
                problems.append(f"{case_id}: no audit row when the update returned")
                continue
            at = recorded.timestamp()
            if not (wall0 - _SLACK.total_seconds() <= at <= wall1 + _SLACK.total_seconds()):
                problems.append(f"{case_id}: recorded_at outside the call ({at - wall0:+.3f}s)")
            after_commit_ms.append((wall1 - at) * 1000)

    for p in (50, 90, 99):
        rep.add(section, f"p{p}", percentile(real_ms, p), percentile(base_ms, p), "ms", "{:.1f}")
    rep.add(section, "max", max(real_ms), max(base_ms), "ms", "{:.1f}")
    rep.add(
        section, "mean", sum(real_ms) / len(real_ms), sum(base_ms) / len(base_ms), "ms", "{:.1f}"
    )
    rep.add(
        section,
        "record tx start -> update returned p50",
        percentile(after_commit_ms, 50),
        None,
        "ms",
        "{:.1f}",
    )
    steps = await _steps(env, real, calls)
    for name, values in steps.items():
        rep.add(section, f"  real, step: {name} p50", percentile(values, 50), None, "ms", "{:.1f}")
    if problems:
        rep.note(section, f"READ-YOUR-WRITES VIOLATIONS: {len(problems)}: {problems[:3]}")
    else:
        rep.note(
            section,
            f"all {len(real_ms)} audit rows were committed and visible when the update "
            f"returned; recorded_at always between call and return",
        )
    rep.note(
        section,
        "steps from the history's event times: the real update needs a workflow task, an "
        "activity task and a second workflow task; the baseline ping is answered in one",
    )
    p99_r, p99_b = percentile(real_ms, 99), percentile(base_ms, 99)
    rep.target(
        "update->record p99 <= 3 x baseline p99",
        p99_r <= 3 * p99_b and not problems,
        f"{p99_r:.1f} vs {p99_b:.1f} ms = {p99_r / p99_b:.2f}x",
    )


def _at(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1e6


async def _steps(
    env: BenchEnv, real: RealTarget, calls: dict[str, tuple[float, float]]
) -> dict[str, list[float]]:
    """Where the time of each acknowledge went, from its events' times (server clock = ours)."""
    histories = await fetch_histories(env.client, [real.workflow_id(c) for c in calls])
    steps: dict[str, list[float]] = {
        "call -> update accepted (1st workflow task)": [],
        "record activity queued -> started": [],
        "record activity ran": [],
        "activity done -> 2nd workflow task started": [],
        "2nd workflow task ran": [],
        "update completed -> client has answer": [],
    }
    for history, (wall0, wall1) in zip(histories, calls.values(), strict=True):
        events = list(history.events)
        kinds = [e.WhichOneof("attributes") or "" for e in events]
        try:
            accepted = kinds.index("workflow_execution_update_accepted_event_attributes")
            scheduled = kinds.index("activity_task_scheduled_event_attributes", accepted)
            started = kinds.index("activity_task_started_event_attributes", scheduled)
            completed = kinds.index("activity_task_completed_event_attributes", started)
            wft_started = kinds.index("workflow_task_started_event_attributes", completed)
            wft_done = kinds.index("workflow_task_completed_event_attributes", wft_started)
            done = kinds.index("workflow_execution_update_completed_event_attributes", wft_done)
        except ValueError:
            continue  # the record step is not an activity task (e.g. a local activity)
        ms = 1000.0
        steps["call -> update accepted (1st workflow task)"].append(
            (_at(events[accepted]) - wall0) * ms
        )
        steps["record activity queued -> started"].append(
            (_at(events[started]) - _at(events[scheduled])) * ms
        )
        steps["record activity ran"].append((_at(events[completed]) - _at(events[started])) * ms)
        steps["activity done -> 2nd workflow task started"].append(
            (_at(events[wft_started]) - _at(events[completed])) * ms
        )
        steps["2nd workflow task ran"].append(
            (_at(events[wft_done]) - _at(events[wft_started])) * ms
        )
        steps["update completed -> client has answer"].append((wall1 - _at(events[done])) * ms)
    return {k: v for k, v in steps.items() if v}
