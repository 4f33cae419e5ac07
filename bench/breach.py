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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg

from bench.baseline import NoopTimer
from bench.drivers import now
from bench.env import BenchEnv, WorkerProcess
from bench.memory import _open_all, _start_real
from bench.plan import NoopTimerInput, NoopTimerReply
from bench.report import Report, percentile, progress
from cases.models import Category, ClockName, CustomerTier, Tier
from cases.policy.snapshot import DEFAULT_POLICY_RESOURCE, Policy, load_policy


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


async def _paced(starter: Callable[[str], Awaitable[None]], ids: list[str], rate: float) -> None:
    """Start one case every 1/rate seconds (a steady arrival of cases, hence of breaches)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def one(n: int, case_id: str) -> None:
        await asyncio.sleep(max(0.0, t0 + n / rate - loop.time()))
        await starter(case_id)

    await asyncio.gather(*(one(n, c) for n, c in enumerate(ids)))


@dataclass
class _Load:
    """One breach run: its cases, the worker on the short policy, and where the no-op timers run."""

    env: BenchEnv
    ids: list[str]
    target_seconds: float
    rate: float | None
    timeout: float
    worker: WorkerProcess
    policy: Policy
    base_queue: str

    @property
    def cases(self) -> int:
        return len(self.ids)


@dataclass
class _Latencies:
    """Milliseconds from each clock's due time: escalation recorded, real wake, no-op wake."""

    real_ms: list[float]
    timer_ms: list[float]
    base_ms: list[float]

    @classmethod
    def of(cls, rows: list[asyncpg.Record], replies: list[NoopTimerReply]) -> _Latencies:
        return cls(
            real_ms=[(r["escalated_at"] - r["breached_at"]).total_seconds() * 1000 for r in rows],
            timer_ms=[(r["detected_at"] - r["breached_at"]).total_seconds() * 1000 for r in rows],
            base_ms=[(r.woke - r.due) * 1000 for r in replies],
        )


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
    load = _Load(env, ids, target_seconds, rate, timeout, worker, policy, base_worker.task_queue)
    lat = _Latencies.of(*await _drive(load))
    _report(rep, section, lat)
    if enforce:
        _judge(rep, lat, how, at_half_capacity)


async def _drive(load: _Load) -> tuple[list[asyncpg.Record], list[NoopTimerReply]]:
    """Open the cases and the no-op timers, wait for every escalation and wake, stop the worker."""
    env, ids, cases = load.env, load.ids, load.cases
    replies: list[NoopTimerReply] = []

    async def noop(case_id: str) -> None:
        handle = await env.client.start_workflow(
            NoopTimer.run,
            NoopTimerInput(target_seconds=load.target_seconds),
            id=f"noop-{case_id}",
            task_queue=load.base_queue,
        )
        replies.append(await handle.result())

    progress(f"  opening {cases} cases and {cases} no-op timers, then waiting for the breaches ...")
    started = time.perf_counter()

    def start(case_id: str) -> Awaitable[None]:
        return _start_real(env, load.worker.task_queue, case_id, load.policy)

    if load.rate:
        waiting = asyncio.gather(_paced(start, ids, load.rate), _paced(noop, ids, load.rate))
    else:
        waiting = asyncio.gather(_open_all(start, ids, 25), _open_all(noop, ids, 25))
    rows = await _poll(load, replies, started)
    await asyncio.wait_for(waiting, 30)
    await load.worker.stop(grace=5.0)
    if len(rows) < cases or len(replies) < cases:
        raise RuntimeError(
            f"only {len(rows)} cases escalated and {len(replies)} timers reported "
            f"within {load.timeout:.0f}s"
        )
    return rows, replies


async def _poll(load: _Load, replies: list[NoopTimerReply], started: float) -> list[asyncpg.Record]:
    """The escalated cases' clocks, read until all escalated and all timers woke, or time is up."""
    rows: list[asyncpg.Record] = []
    while time.perf_counter() - started < load.timeout:
        rows = await load.env.pool.fetch(
            """
            SELECT c.case_id, c.breached_at, e.recorded_at AS escalated_at,
                   (b.data->>'detected_at')::timestamptz AS detected_at
            FROM sla_clocks c
            JOIN case_events e ON e.case_id = c.case_id AND e.type = 'escalated'
            JOIN case_events b ON b.case_id = c.case_id AND b.type = 'clock_breached'
            WHERE c.clock = 'first_response' AND c.round = 0 AND c.case_id = ANY($1)
            """,
            load.ids,
        )
        if len(rows) >= load.cases and len(replies) >= load.cases:
            break
        await asyncio.sleep(0.5)
    return rows


def _report(rep: Report, section: str, lat: _Latencies) -> None:
    real_ms, timer_ms, base_ms = lat.real_ms, lat.timer_ms, lat.base_ms
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


def _judge(rep: Report, lat: _Latencies, how: str, at_half_capacity: bool) -> None:
    p99 = percentile(lat.real_ms, 99)
    rep.target(
        "breach detection p99 < 1 s"
        + (", cases opened at half the measured capacity" if at_half_capacity else ""),
        p99 < 1000,
        f"p99 {p99:.0f} ms with cases {how} (no-op wake p99 {percentile(lat.base_ms, 99):.0f} ms, "
        f"real wake p99 {percentile(lat.timer_ms, 99):.0f} ms)",
    )
