"""End-to-end cases/s in a closed loop, against the business-minimal no-op read from real histories.

First one case of each kind (explanation or refund, with or without a follow-up) runs one action
at a time; its history gives the `Plan` of business steps the baseline keeps. Then the closed
loop runs the real case and the baseline in the order real, baseline, baseline, real (half the
cases each time), so a drift in machine load during the run weighs on both sides alike.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowHistory

from bench import drivers
from bench.drivers import (
    VARIANTS,
    BaselineTarget,
    LoopResult,
    RealTarget,
    Target,
    closed_loop,
    now,
    proposal,
    variant_for,
)
from bench.env import BenchEnv, WorkerProcess, cpu_delta
from bench.plan import (
    BOOKKEEPING_ACTIVITIES,
    Plan,
    Shape,
    mean_shape,
    plan_from_history,
    shape_of,
    status_path,
)
from bench.report import Report, percentile, progress
from cases.policy.snapshot import Policy, PolicySnapshot

PlanKey = tuple[str, bool]
# Bytes in history are what Temporal stores, replicates and bills for storage.
MAX_HISTORY_BYTES_RATIO = 3.0


async def fetch_histories(
    client: Client, workflow_ids: list[str], limit: int = 16
) -> list[WorkflowHistory]:
    gate = asyncio.Semaphore(limit)

    async def one(workflow_id: str) -> WorkflowHistory:
        async with gate:
            return await client.get_workflow_handle(workflow_id).fetch_history()

    return list(await asyncio.gather(*(one(w) for w in workflow_ids)))


async def quiet(client: Client, workflow_id: str, polls: int = 4, every: float = 0.05) -> int:
    """Wait until the history stops growing (the case sleeps on a timer or has ended)."""
    handle = client.get_workflow_handle(workflow_id)
    previous, stable = -1, 0
    while stable < polls:
        await asyncio.sleep(every)
        length = len((await handle.fetch_history()).events)
        stable = stable + 1 if length == previous else 0
        previous = length
    return previous


def pick_case_id(snapshot: PolicySnapshot, prefix: str, follow_up: bool) -> str:
    n = 0
    while True:
        case_id = f"{prefix}-{n}"
        if snapshot.in_follow_up_sample(case_id) == follow_up:
            return case_id
        n += 1


async def stepwise(target: Target, client: Client, case_id: str, variant: str) -> str:
    """The lifecycle one action at a time, waiting for the case to be quiet after each."""
    workflow_id = target.workflow_id(case_id)
    index, first = VARIANTS.index(variant), {"actor": "agent-1"}
    if drivers.OPEN_MODE == drivers.WITH_START:
        await target.open_and_act(case_id, index, "acknowledge", first)
    else:
        await target.open(case_id, index)
        await quiet(client, workflow_id)
        await target.act(case_id, "acknowledge", first)
    await quiet(client, workflow_id)
    await target.act(case_id, "propose_resolution", proposal(variant))
    await quiet(client, workflow_id)
    if not (await target.poll(case_id)).ready:
        raise RuntimeError(f"{workflow_id}: not ready for confirmation after a quiet wait")
    await target.act(case_id, "confirm", {})
    await quiet(client, workflow_id)
    step = await target.act(case_id, "rate", {"score": 5})
    if step.follow_up:
        await quiet(client, workflow_id)
        await target.act(case_id, "follow_up_result", {"actor": "agent-1", "outcome": "satisfied"})
    return await target.result(case_id)


@dataclass
class Calibration:
    plans: dict[PlanKey, Plan]
    real_shapes: dict[PlanKey, Shape]
    real_histories: dict[PlanKey, WorkflowHistory]
    baseline_shapes: dict[PlanKey, Shape] = field(default_factory=dict)
    baseline_histories: dict[PlanKey, WorkflowHistory] = field(default_factory=dict)


async def calibrate(env: BenchEnv, real: RealTarget, snapshot: PolicySnapshot) -> Calibration:
    plans: dict[PlanKey, Plan] = {}
    shapes: dict[PlanKey, Shape] = {}
    histories: dict[PlanKey, WorkflowHistory] = {}
    for variant in VARIANTS:
        for follow_up in (False, True):
            case_id = pick_case_id(snapshot, f"cal-{env.run_id}-{variant}", follow_up)
            status = await stepwise(real, env.client, case_id, variant)
            if status != "closed":
                raise RuntimeError(f"calibration case {case_id} ended {status}")
            history = await env.client.get_workflow_handle(
                real.workflow_id(case_id)
            ).fetch_history()
            plan = plan_from_history(history.events)
            expected = ["acknowledge", "propose_resolution", "confirm", "rate"]
            expected += ["follow_up_result"] if follow_up else []
            found = ([plan.start_update] if plan.start_update else []) + plan.updates()
            if found != expected:
                raise RuntimeError(f"calibration {case_id}: updates {found} != {expected}")
            plans[(variant, follow_up)] = plan
            shapes[(variant, follow_up)] = shape_of(history.events)
            histories[(variant, follow_up)] = history
    return Calibration(plans, shapes, histories)


async def check_baseline(env: BenchEnv, calibration: Calibration, task_queue: str) -> None:
    """Run one baseline case per plan, one action at a time: it must make the real case's business
    calls (the same updates, the same money, shipment and visit activities) and nothing else."""
    keys = list(calibration.plans)
    base = BaselineTarget(
        env.client,
        task_queue,
        {VARIANTS.index(k[0]): calibration.plans[k] for k in keys if not k[1]},
    )
    for key in keys:
        variant, follow_up = key
        base.plans[VARIANTS.index(variant)] = calibration.plans[key]
        case_id = f"cal-{env.run_id}-{variant}-{follow_up}"
        await stepwise(base, env.client, case_id, variant)
        history = await env.client.get_workflow_handle(base.workflow_id(case_id)).fetch_history()
        shape = shape_of(history.events)
        calibration.baseline_shapes[key] = shape
        calibration.baseline_histories[key] = history
        real = calibration.real_shapes[key]
        business = Counter(
            {k: v for k, v in real.activity_types.items() if k not in BOOKKEEPING_ACTIVITIES}
        )
        wrong = [f"{attr} {getattr(shape, attr)}" for attr in ("local_activities", "upserts") if getattr(shape, attr)]
        if shape.activity_types != business:
            wrong.append(f"activities {dict(shape.activity_types)} != real {dict(business)}")
        if shape.updates != real.updates:
            wrong.append(f"updates {shape.updates} != real {real.updates}")
        if shape.timers > max(real.timers, 1):
            wrong.append(f"timers {shape.timers} > real {real.timers}")
        if wrong:
            raise RuntimeError(f"baseline {key}: {'; '.join(wrong)}")


@dataclass
class E2EResult:
    real: LoopResult
    baseline: LoopResult
    real_histories: list[WorkflowHistory]
    baseline_histories: list[WorkflowHistory]
    real_cpu: dict[str, float]
    baseline_cpu: dict[str, float]
    transitions: list[int]
    calibration: Calibration
    keys: list[PlanKey]  # the path of each case, in the order of the histories

    def by_path(self, histories: list[WorkflowHistory]) -> dict[PlanKey, list[WorkflowHistory]]:
        out: dict[PlanKey, list[WorkflowHistory]] = {}
        for key, history in zip(self.keys, histories, strict=True):
            out.setdefault(key, []).append(history)
        return out


def _merge(parts: list[LoopResult]) -> LoopResult:
    return LoopResult(
        [o for p in parts for o in p.outcomes],
        sum(p.seconds for p in parts),
        [e for p in parts for e in p.errors],
    )


async def measure(
    env: BenchEnv,
    *,
    cases: int,
    concurrency: int,
    policy: Policy,
    real_worker: WorkerProcess,
    base_worker: WorkerProcess,
    calibration: Calibration,
    label: str = "e2e",
) -> E2EResult:
    snapshot = policy.snapshot(now())
    ids = [f"{label}-{env.run_id}-{i:04d}" for i in range(cases)]
    keys = [(variant_for(i), snapshot.in_follow_up_sample(cid)) for i, cid in enumerate(ids)]
    plans = {i: calibration.plans[key] for i, key in enumerate(keys)}
    real = RealTarget(env.client, real_worker.task_queue, policy)
    base = BaselineTarget(env.client, base_worker.task_queue, plans)
    half = cases // 2
    order: list[tuple[Target, WorkerProcess, list[str], int]] = [
        (real, real_worker, ids[:half], 0),
        (base, base_worker, ids[:half], 0),
        (base, base_worker, ids[half:], half),
        (real, real_worker, ids[half:], half),
    ]
    results: dict[str, list[LoopResult]] = {"real": [], "baseline": []}
    cpu: dict[str, dict[str, float]] = {"real": Counter(), "baseline": Counter()}  # type: ignore[dict-item]
    for target, worker, chunk, offset in order:
        before = env.cpu_snapshot([worker])
        part = await closed_loop(_Offset(target, offset), chunk, concurrency)
        delta = cpu_delta(before, env.cpu_snapshot([worker]))
        for key, value in delta.items():
            cpu[target.kind][key] += value
        results[target.kind].append(part)
        progress(
            f"  {target.kind:8s} {len(chunk)} cases in {part.seconds:.1f}s "
            f"({part.rate:.1f} cases/s){' ERRORS: ' + str(len(part.errors)) if part.errors else ''}"
        )
    real_result, base_result = _merge(results["real"]), _merge(results["baseline"])
    for outcome in real_result.outcomes:
        expected = snapshot.in_follow_up_sample(outcome.case_id)
        if outcome.follow_up != expected:
            raise RuntimeError(
                f"{outcome.case_id}: follow-up {outcome.follow_up} != sample {expected}"
            )
    real_histories = await fetch_histories(env.client, [real.workflow_id(i) for i in ids])
    base_histories = await fetch_histories(env.client, [base.workflow_id(i) for i in ids])
    transitions = await status_transitions(env, ids)
    return E2EResult(
        real_result,
        base_result,
        real_histories,
        base_histories,
        dict(cpu["real"]),
        dict(cpu["baseline"]),
        transitions,
        calibration,
        keys,
    )


class _Offset:
    """A target whose case indexes start at `offset` (the second half of the run)."""

    def __init__(self, inner: Target, offset: int) -> None:
        self._inner = inner
        self._offset = offset
        self.kind = inner.kind

    def workflow_id(self, case_id: str) -> str:
        return self._inner.workflow_id(case_id)

    async def open(self, case_id: str, index: int) -> None:
        await self._inner.open(case_id, index + self._offset)

    async def open_and_act(self, case_id: str, index: int, action: str, data: dict[str, Any]) -> Any:
        return await self._inner.open_and_act(case_id, index + self._offset, action, data)

    async def act(self, case_id: str, action: str, data: dict[str, Any]) -> Any:
        return await self._inner.act(case_id, action, data)

    async def poll(self, case_id: str) -> Any:
        return await self._inner.poll(case_id)

    async def result(self, case_id: str) -> str:
        return await self._inner.result(case_id)


async def status_transitions(env: BenchEnv, case_ids: list[str]) -> list[int]:
    rows = await env.pool.fetch(
        "SELECT case_id, type, data FROM case_events WHERE case_id = ANY($1) ORDER BY case_id, seq",
        case_ids,
    )
    trail: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in rows:
        trail.setdefault(row["case_id"], []).append((row["type"], json.loads(row["data"])))
    closed = await env.pool.fetchval(
        "SELECT count(*) FROM cases WHERE case_id = ANY($1) AND status = 'closed'", case_ids
    )
    if closed != len(case_ids):
        raise RuntimeError(f"only {closed} of {len(case_ids)} cases are closed in PostgreSQL")
    paths = [status_path(trail.get(c, [])) for c in case_ids]
    bad = [c for c, p in zip(case_ids, paths, strict=True) if not p or p[-1] != "closed"]
    if bad:
        raise RuntimeError(f"audit trail does not end closed for {bad[:3]}")
    return [len(p) - 1 for p in paths]


def report(rep: Report, result: E2EResult, *, cases: int, concurrency: int) -> None:
    section = f"1. end-to-end ({cases} cases, {concurrency} concurrent customers, closed loop)"
    real, base = result.real, result.baseline
    rep.add(section, "throughput", real.rate, base.rate, "cases/s")
    lat_r = [o.seconds for o in real.outcomes]
    lat_b = [o.seconds for o in base.outcomes]
    for p in (50, 99):
        rep.add(
            section,
            f"case lifecycle p{p}",
            percentile(lat_r, p) * 1000,
            percentile(lat_b, p) * 1000,
            "ms",
            "{:.0f}",
        )
    shapes_r = [shape_of(h.events) for h in result.real_histories]
    shapes_b = [shape_of(h.events) for h in result.baseline_histories]
    mr, mb = mean_shape(shapes_r), mean_shape(shapes_b)
    rep.add(section, "history events / case", mr["events"], mb["events"], "events", "{:.1f}")
    for key, label in (
        ("activities", "activities"),
        ("local_activities", "local activities"),
        ("timers", "timers started"),
        ("updates", "updates"),
        ("workflow_tasks", "workflow tasks"),
        ("upserts", "search-attribute upserts"),
    ):
        rep.add(section, f"{label} / case", mr[key], mb[key], "", "{:.2f}")
    rep.add(section, "history bytes / case", mr["history_bytes"] / 1024, mb["history_bytes"] / 1024, "KiB", "{:.1f}")
    transitions = sum(result.transitions) / len(result.transitions)
    rep.add(section, "status transitions / case", transitions, None, "", "{:.2f}")
    n_r, n_b = len(real.outcomes), len(base.outcomes)
    for key in ("worker", "temporal", "postgres", "client"):
        # The baseline writes nothing to PostgreSQL, so a ratio there would mean nothing.
        base_cpu = None if key == "postgres" else result.baseline_cpu[key] / n_b * 1000
        rep.add(section, f"CPU {key} / case", result.real_cpu[key] / n_r * 1000, base_cpu, "ms", "{:.1f}")
    capacity_r = (os.cpu_count() or 1) / sum(
        result.real_cpu[k] / n_r for k in ("worker", "temporal", "postgres")
    )
    capacity_b = (os.cpu_count() or 1) / sum(
        result.baseline_cpu[k] / n_b for k in ("worker", "temporal")
    )
    rep.add(
        section,
        "CPU-bound capacity",
        capacity_r,
        capacity_b,
        "cases/s",
        note="CPUs / (worker + Temporal + PostgreSQL CPU seconds per case)",
    )
    kinds = Counter((o.variant, o.follow_up) for o in real.outcomes)
    mix = ", ".join(f"{v}{' + follow-up' if f else ''}: {n}" for (v, f), n in sorted(kinds.items()))
    rep.note(
        section,
        f"case mix: {mix}; every real case ended closed (workflow result and "
        f"PostgreSQL projection); audit trails checked",
    )
    types: Counter[str] = Counter()
    for s in shapes_r:
        types.update(s.activity_types)
    rep.note(
        section,
        "real activities / case: "
        + ", ".join(f"{name} {count / len(shapes_r):.2f}" for name, count in types.most_common()),
    )
    polls = sum(o.polls for o in real.outcomes) / n_r
    rep.note(
        section,
        f"state polls after propose_resolution (refund runs after the update "
        f"returns): real {polls:.2f}/case, baseline "
        f"{sum(o.polls for o in base.outcomes) / n_b:.2f}/case",
    )
    if real.errors or base.errors:
        rep.note(
            section,
            f"ERRORS real {len(real.errors)} baseline {len(base.errors)}: "
            f"{(real.errors + base.errors)[:3]}",
        )
    ok = real.rate >= 0.7 * base.rate and not real.errors
    rep.target(
        "cases/s >= 0.7 x business-minimal no-op",
        ok,
        f"{real.rate:.2f} vs {base.rate:.2f} cases/s = {real.rate / base.rate:.2f}x",
    )
    real_kib, base_kib = mr["history_bytes"] / 1024, mb["history_bytes"] / 1024
    rep.target(
        f"history bytes per case <= {MAX_HISTORY_BYTES_RATIO:g} x business-minimal no-op",
        real_kib <= MAX_HISTORY_BYTES_RATIO * base_kib,
        f"{real_kib:.1f} vs {base_kib:.1f} KiB = {real_kib / base_kib:.2f}x",
    )
