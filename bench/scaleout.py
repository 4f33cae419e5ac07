"""Scale-out: the end-to-end closed loop against 1, 2 and 4 worker processes on one task queue.

Each size gets its own task queue and fresh worker processes. Every case must end closed (the
workflow result and the PostgreSQL projection); the histories show which worker processes ran
each case's workflow tasks and activities, so a case moving between workers is visible.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from bench.drivers import RealTarget, closed_loop
from bench.e2e import fetch_histories
from bench.env import BenchEnv, WorkerProcess, cpu_delta
from bench.report import Report, progress
from cases.policy.snapshot import Policy


def _identities(history) -> tuple[set[str], Counter[str]]:  # type: ignore[no-untyped-def]
    wft: set[str] = set()
    tasks: Counter[str] = Counter()
    for event in history.events:
        kind = event.WhichOneof("attributes")
        if kind == "workflow_task_completed_event_attributes":
            identity = event.workflow_task_completed_event_attributes.identity
            wft.add(identity)
            tasks[identity] += 1
        elif kind == "activity_task_started_event_attributes":
            tasks[event.activity_task_started_event_attributes.identity] += 1
    return wft, tasks


async def measure(
    env: BenchEnv,
    rep: Report,
    *,
    sizes: tuple[int, ...],
    cases: int,
    concurrency: int,
    policy: Policy,
) -> None:
    section = f"6. scale-out ({cases} cases per size, {concurrency} concurrent customers)"
    rates: dict[int, float] = {}
    for size in sizes:
        task_queue = env.task_queue(f"scale{size}")
        workers = await asyncio.gather(
            *(
                WorkerProcess(env, "real", task_queue, name=f"scale{size}-{n}").start()
                for n in range(size)
            )
        )
        target = RealTarget(env.client, task_queue, policy)
        warm = [f"warm{size}-{env.run_id}-{i}" for i in range(2 * size)]
        await closed_loop(target, warm, 2 * size)
        ids = [f"sc{size}-{env.run_id}-{i:04d}" for i in range(cases)]
        before = env.cpu_snapshot(list(workers))
        result = await closed_loop(target, ids, concurrency)
        cpu = cpu_delta(before, env.cpu_snapshot(list(workers)))
        for w in workers:
            await w.stop(grace=5.0)
        closed = sum(1 for o in result.outcomes if o.status == "closed")
        in_pg = await env.pool.fetchval(
            "SELECT count(*) FROM cases WHERE case_id = ANY($1) AND status = 'closed'", ids
        )
        histories = await fetch_histories(env.client, [target.workflow_id(i) for i in ids])
        per_worker: Counter[str] = Counter()
        moved = 0
        for history in histories:
            wft, tasks = _identities(history)
            per_worker.update(tasks)
            moved += len(wft) > 1
        rates[size] = result.rate
        progress(f"  {size} worker(s): {result.rate:.2f} cases/s, {closed}/{cases} closed")
        base = rates[sizes[0]]
        rep.add(
            section,
            f"{size} worker process(es)",
            result.rate,
            base,
            "cases/s",
            note=f"{closed}/{cases} closed, {in_pg} closed in PostgreSQL; "
            f"worker CPU {cpu['worker'] / cases * 1000:.0f} ms/case, "
            f"temporal {cpu['temporal'] / cases * 1000:.0f} ms/case",
        )
        share = sorted(per_worker.values(), reverse=True)
        total = sum(share) or 1
        rep.note(
            section,
            f"{size} worker(s): task share per worker process "
            f"{' / '.join(f'{100 * s / total:.0f}%' for s in share)}; "
            f"{moved} of {cases} cases ran workflow tasks on more than one worker",
        )
        if closed != cases or in_pg != cases or result.errors:
            rep.note(section, f"{size} worker(s): NOT ALL CLOSED; errors: {result.errors[:3]}")
    rep.note(section, "ratio column: cases/s against the single-worker run")
