"""`python -m bench`: run the benchmarks, print every figure with its business-minimal no-op
baseline and ratio, and the targets with whether each holds. `--only
e2e,latency,breach,replay,scaleout,memory` picks benchmarks; `--quick` runs small sizes (a smoke
run, not for figures to quote); `--profile DIR` records py-spy profiles of the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass

from bench import breach, drivers, e2e, fairness, latency, memory, paths, priority, replay, scaleout, whatif
from bench.drivers import RealTarget, now
from bench.env import BenchEnv, WorkerProcess
from bench.options import Sizes, machine, parse_args
from bench.plan import Plan
from bench.profile import Profiler, executable
from bench.report import Report, progress
from cases.policy.snapshot import Policy, load_policy


@dataclass
class _Run:
    """What every phase of a run shares, from before the dev stack starts until it is closed."""

    args: argparse.Namespace
    sizes: Sizes
    only: list[str]
    env: BenchEnv
    rep: Report
    profiler: Profiler


@dataclass
class _Shared:
    """The two workers that e2e, replay, latency and breach share, and the calibration they use."""

    policy: Policy
    real_w: WorkerProcess
    base_w: WorkerProcess
    calibration: e2e.Calibration
    start_plan: Plan


async def run(args: argparse.Namespace, sizes: Sizes, only: list[str]) -> int:
    started = time.monotonic()
    only = _announce(args, sizes, only)
    rep = Report()
    env = BenchEnv(bytecode_cache=not args.no_bytecode_cache)
    _print_bytecode(env)
    ctx = _Run(args, sizes, only, env, rep, Profiler(args.profile))
    try:
        shared = await _start(ctx)
        result = await _run_e2e(ctx, shared)
        await _run_replay(ctx, result)
        await _run_latency(ctx, shared)
        await _run_breach(ctx, shared, result)
        # Nothing after this point uses the shared workers; idle, they would still hold CPU and memory.
        await shared.real_w.stop()
        await shared.base_w.stop()
        await _run_on_own_workers(ctx, shared)
    finally:
        ctx.profiler.stop()
        await env.close(keep=args.keep)
    return _finish(ctx, started)


def _announce(args: argparse.Namespace, sizes: Sizes, only: list[str]) -> list[str]:
    """Print what the run measures and on what; returns the benchmarks to run."""
    if "replay" in only and "e2e" not in only:
        only = ["e2e", *only]
        progress("replay uses the end-to-end run's histories: running e2e too")
    for line in machine():
        print(line)
    drivers.OPEN_MODE = args.open
    print(f"sizes: {sizes}")
    print(f"benchmarks: {', '.join(only)}; cases opened with {args.open}")
    sys.stdout.flush()
    return only


def _print_bytecode(env: BenchEnv) -> None:
    print(
        "bytecode: "
        + (
            "compiled once into the temp folder (as in an installed package)"
            if env.bytecode_cache
            else "as the environment says "
            f"(PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
        )
    )


async def _start(ctx: _Run) -> _Shared:
    env = ctx.env
    progress(f"starting dev server and PostgreSQL in {env.tmp}")
    await env.start()
    policy = load_policy(None)
    real_w = await WorkerProcess(env, "real", env.task_queue("real")).start()
    base_w = await WorkerProcess(env, "baseline", env.task_queue("base")).start()
    progress("calibrating: one case of each kind, one action at a time")
    calibration = await e2e.calibrate(
        env, RealTarget(env.client, real_w.task_queue, policy), policy.snapshot(now())
    )
    await e2e.check_baseline(env, calibration, base_w.task_queue)
    return _Shared(policy, real_w, base_w, calibration, calibration.plans[("explanation", False)])


async def _run_e2e(ctx: _Run, shared: _Shared) -> e2e.E2EResult | None:
    """The end-to-end run and the paths report; without e2e, paths of the calibration cases."""
    env, rep, sizes = ctx.env, ctx.rep, ctx.sizes
    if "e2e" not in ctx.only:
        paths.report(
            rep,
            {k: [h] for k, h in shared.calibration.real_histories.items()},
            {k: [h] for k, h in shared.calibration.baseline_histories.items()},
            env.calls,
            "one calibration case per path, one action at a time",
        )
        return None
    progress(f"e2e: {sizes.cases} cases per side, {sizes.concurrency} customers")
    ctx.profiler.start("e2e", [shared.real_w, shared.base_w])
    try:
        result = await e2e.measure(
            env,
            cases=sizes.cases,
            concurrency=sizes.concurrency,
            policy=shared.policy,
            real_worker=shared.real_w,
            base_worker=shared.base_w,
            calibration=shared.calibration,
        )
    finally:
        ctx.profiler.stop()
    e2e.report(rep, result, cases=sizes.cases, concurrency=sizes.concurrency)
    paths.report(
        rep,
        result.by_path(result.real_histories),
        result.by_path(result.baseline_histories),
        env.calls,
        f"the {sizes.cases} end-to-end cases per side",
    )
    return result


async def _run_replay(ctx: _Run, result: e2e.E2EResult | None) -> None:
    if "replay" not in ctx.only or result is None:
        return
    progress("replay")
    # Up to 100 of each (the case mix stays the same), replayed twice, best round counts.
    await replay.measure(
        ctx.rep, result.real_histories[:100], result.baseline_histories[:100], ctx.env.converter
    )


async def _run_latency(ctx: _Run, shared: _Shared) -> None:
    if "latency" not in ctx.only:
        return
    progress(f"latency: {ctx.sizes.latency_samples} samples per side")
    ctx.profiler.start("latency", [shared.real_w, shared.base_w])
    try:
        await latency.measure(
            ctx.env,
            ctx.rep,
            samples=ctx.sizes.latency_samples,
            policy=shared.policy,
            plan=shared.start_plan,
            real_worker=shared.real_w,
            base_worker=shared.base_w,
        )
    finally:
        ctx.profiler.stop()


async def _run_breach(ctx: _Run, shared: _Shared, result: e2e.E2EResult | None) -> None:
    if "breach" not in ctx.only:
        return
    args, sizes = ctx.args, ctx.sizes
    rate, source = breach_rate(args, sizes, result)
    progress(
        f"breach: {sizes.breach_cases} cases at {rate:.2f}/s{source}, "
        f"{sizes.breach_target:g}s target"
    )
    await breach.measure(
        ctx.env,
        ctx.rep,
        cases=sizes.breach_cases,
        target_seconds=sizes.breach_target,
        base_worker=shared.base_w,
        rate=rate,
        rate_source=source,
        at_half_capacity=result is not None and args.breach_rate is None,
        enforce=True,
    )
    if sizes.breach_burst:
        progress(f"breach: {sizes.breach_cases} cases at once")
        await breach.measure(
            ctx.env,
            ctx.rep,
            cases=sizes.breach_cases,
            target_seconds=sizes.breach_target,
            base_worker=shared.base_w,
            rate=None,
            enforce=False,
        )


async def _run_on_own_workers(ctx: _Run, shared: _Shared) -> None:
    """The benchmarks that do not use the shared workers (some start workers of their own)."""
    env, rep, sizes, only = ctx.env, ctx.rep, ctx.sizes, ctx.only
    if "scaleout" in only:
        progress(f"scale-out: {sizes.scale_sizes} workers, {sizes.scale_cases} cases each")
        await scaleout.measure(
            env,
            rep,
            sizes=sizes.scale_sizes,
            cases=sizes.scale_cases,
            concurrency=sizes.concurrency,
            policy=shared.policy,
        )
    if "memory" in only:
        progress(f"memory: {sizes.memory_cases} open workflows per worker")
        await memory.measure(env, rep, cases=sizes.memory_cases, policy=shared.policy, plan=shared.start_plan)
    if "priority" in only:
        await priority.measure(env, rep, general=sizes.priority_general, urgent=sizes.priority_urgent)
    if "fairness" in only:
        await fairness.measure(env, rep, backlog=sizes.fairness_backlog, behind=sizes.fairness_behind)
    if "whatif" in only:
        await whatif.measure(rep, env.dsn, sizes.whatif_cases, env.tmp)


def _finish(ctx: _Run, started: float) -> int:
    """Print the report and the end-of-run lines; the exit status (1 only with --strict)."""
    rep = ctx.rep
    ctx.profiler.report(rep)
    print(rep.render())
    elapsed = time.monotonic() - started
    print(
        f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"total time {elapsed / 60:.1f} min"
    )
    failed = [t.name for t in rep.targets if not t.holds]
    if failed and ctx.args.profile is None:
        print(
            f"{len(failed)} target(s) do not hold; to see where the worker's time goes, run again "
            "with --profile DIR (py-spy " + ("installed" if executable() else "NOT installed") + ")"
        )
    return 1 if failed and ctx.args.strict else 0


def breach_rate(args: argparse.Namespace, sizes: Sizes, result: e2e.E2EResult | None) -> tuple[float, str]:
    """Half the capacity measured end to end in this run, unless a rate was asked for."""
    if args.breach_rate is None and result is not None and result.real.rate > 0:
        capacity = result.real.rate
        return capacity / 2, f" (half the {capacity:.2f} cases/s measured end to end)"
    if args.breach_rate is None:
        return sizes.breach_rate, " (--breach-rate default: capacity not measured, e2e did not run)"
    return sizes.breach_rate, " (--breach-rate)"


def main(argv: list[str] | None = None) -> int:
    args, sizes, only = parse_args(argv)
    return asyncio.run(run(args, sizes, only))
