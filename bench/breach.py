"""Breach detection latency: from a clock's due time to its escalation being recorded.

A worker process runs a copy of the shipped policy in which the general tier's first response is
due after a few seconds (everything else is unchanged, so nothing else falls due). Cases are
opened and left alone; each one warns at 80 % of the target, then breaches and escalates. The
latency of a case is `case_events.recorded_at` of its `escalated` row minus the clock's
`breached_at` (its due time) in `sla_clocks`. Baseline: the business-minimal no-op, one timer to
the due instant; it has nothing to record, so its latency is the wake (`workflow.now()` in the
task its timer woke) minus the due instant. The target is judged with cases opened at a steady
half of the capacity the end-to-end run measured, so the server is loaded but not saturated.
"""

from __future__ import annotations

import asyncio
import re
import time
from importlib import resources
from pathlib import Path

from bench.baseline import NoopTimer
from bench.drivers import now
from bench.env import BenchEnv, WorkerProcess
from bench.memory import _open_all, _start_real
from bench.plan import NoopTimerInput, NoopTimerReply
from bench.report import Report, percentile, progress
from cases.models import Category, ClockName, CustomerTier, Tier
from cases.policy.snapshot import DEFAULT_POLICY_RESOURCE, load_policy


def short_policy(folder: Path, first_response: str) -> Path:
    """The shipped policy with the general tier's first response target set to `first_response`."""
    text = resources.files("cases").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")
    head, sep, tail = text.partition("[targets.general]")
    if not sep:
        raise RuntimeError("the shipped policy has no [targets.general] table")
    tail, count = re.subn(
        r'(?m)^first_response\s*=\s*"[^"]*"', f'first_response = "{first_response}"', tail, count=1
    )
    if count != 1:
        raise RuntimeError("no first_response in [targets.general]")
    path = folder / "short-first-response.toml"
    path.write_text(head + sep + tail, encoding="utf-8")
    policy = load_policy(path)
    target = policy.snapshot(now()).targets_for(
        Tier.GENERAL, Category.DESCRIPTION_MISMATCH, CustomerTier.STANDARD
    )[ClockName.FIRST_RESPONSE]
    if target.business:
        raise RuntimeError("the short target must be wall-clock time")
    return path


async def _paced(starter, ids: list[str], rate: float) -> None:  # type: ignore[no-untyped-def]
    """Start one case every 1/rate seconds (a steady arrival of cases, hence of breaches)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def one(n: int, case_id: str) -> None:
        await asyncio.sleep(max(0.0, t0 + n / rate - loop.time()))
        await starter(case_id)

    await asyncio.gather(*(one(n, c) for n, c in enumerate(ids)))


async def measure(
    env: BenchEnv,
    rep: Report,
    *,
    cases: int,
    target_seconds: float,
    base_worker: WorkerProcess,
    rate: float | None,
    enforce: bool,
    rate_source: str = "",
    at_half_capacity: bool = False,
    timeout: float = 180.0,
) -> None:
    how = f"opened at {rate:.2f}/s{rate_source}" if rate else "opened at once (a burst)"
    section = (
        f"3. breach detection ({cases} cases {how}, left to breach a "
        f"{target_seconds:g}s first-response target)"
    )
    path = short_policy(env.tmp, f"{target_seconds:g}s")
    policy = load_policy(path)
    worker = await WorkerProcess(env, "real", env.task_queue("breach"), policy=path).start()
    label = "s" if rate else "b"
    ids = [f"brc{label}-{env.run_id}-{i:03d}" for i in range(cases)]
    replies: list[NoopTimerReply] = []

    async def noop(case_id: str) -> None:
        handle = await env.client.start_workflow(
            NoopTimer.run,
            NoopTimerInput(target_seconds=target_seconds),
            id=f"noop-{case_id}",
            task_queue=base_worker.task_queue,
        )
        replies.append(await handle.result())

    progress(f"  opening {cases} cases and {cases} no-op timers, then waiting for the breaches ...")
    started = time.perf_counter()

    def start(case_id: str):  # type: ignore[no-untyped-def]
        return _start_real(env, worker.task_queue, case_id, policy)

    if rate:
        waiting = asyncio.gather(_paced(start, ids, rate), _paced(noop, ids, rate))
    else:
        waiting = asyncio.gather(_open_all(start, ids, 25), _open_all(noop, ids, 25))
    rows = []
    while time.perf_counter() - started < timeout:
        rows = await env.pool.fetch(
            """
            SELECT c.case_id, c.breached_at, e.recorded_at AS escalated_at,
                   (b.data->>'detected_at')::timestamptz AS detected_at
            FROM sla_clocks c
            JOIN case_events e ON e.case_id = c.case_id AND e.type = 'escalated'
            JOIN case_events b ON b.case_id = c.case_id AND b.type = 'clock_breached'
            WHERE c.clock = 'first_response' AND c.round = 0 AND c.case_id = ANY($1)
            """,
            ids,
        )
        if len(rows) >= cases and len(replies) >= cases:
            break
        await asyncio.sleep(0.5)
    await asyncio.wait_for(waiting, 30)
    await worker.stop(grace=5.0)
    if len(rows) < cases or len(replies) < cases:
        raise RuntimeError(
            f"only {len(rows)} cases escalated and {len(replies)} timers reported "
            f"within {timeout:.0f}s"
        )

    real_ms = [(r["escalated_at"] - r["breached_at"]).total_seconds() * 1000 for r in rows]
    timer_ms = [(r["detected_at"] - r["breached_at"]).total_seconds() * 1000 for r in rows]
    base_ms = [(r.woke - r.due) * 1000 for r in replies]
    for p in (50, 90, 99):
        rep.add(
            section,
            f"due -> escalation recorded (no-op: woke) p{p}",
            percentile(real_ms, p),
            percentile(base_ms, p),
            "ms",
            "{:.0f}",
        )
    rep.add(section, "max", max(real_ms), max(base_ms), "ms", "{:.0f}")
    for p in (50, 99):
        # The timer's lateness on both sides: what the server adds before any of our code runs.
        rep.add(
            section,
            f"due -> workflow woke p{p}",
            percentile(timer_ms, p),
            percentile(base_ms, p),
            "ms",
            "{:.0f}",
        )
    rep.note(
        section,
        "all cases breached once and escalated once; latency = "
        "case_events.recorded_at('escalated') - sla_clocks.breached_at; the no-op's latency is its "
        "wake: it records nothing",
    )
    if enforce:
        p99 = percentile(real_ms, 99)
        rep.target(
            "breach detection p99 < 1 s"
            + (", cases opened at half the measured capacity" if at_half_capacity else ""),
            p99 < 1000,
            f"p99 {p99:.0f} ms with cases {how} (no-op wake p99 {percentile(base_ms, 99):.0f} ms, "
            f"real wake p99 {percentile(timer_ms, 99):.0f} ms)",
        )
