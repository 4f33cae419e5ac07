"""Fairness between merchants under saturation (STANDARDS S14.5): does one merchant's backlog hold
up another merchant's cases?

One worker with two workflow-task slots serves the task queue, so that a burst sits in the
server's task queue (the run prints `temporal task-queue describe`'s backlog), where fairness
acts; with the workers uncapped, the 2-core server would be the bottleneck instead. Merchant A
opens its backlog at once, and merchant B then opens its few cases at once. Both merchants are
on the same plan, so with both backlogged B is owed half the dispatches: its p50 with fairness
is then at most about twice its p50 alone, where its own burst has the worker to itself. B's open latency is measured
from each start request to the case's first record (`case_events.recorded_at` of its `opened`
event), three ways in one run, each on a task queue of its own: with fairness keys, without
them, and with A idle. With fairness, B's p50 should stay within twice its p50 with A idle.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from activities.merchants import MerchantRegistry
from bench.drivers import intake
from bench.env import BenchEnv, WorkerProcess
from bench.report import Report, percentile, progress, ratio
from cases.policy.snapshot import load_policy
from devstack.temporal_server import temporal_binary
from starter.client import CaseClient

SECTION = "fairness between merchants under saturation"
MODES = ("fair", "unfair", "idle")
# Starts in flight at once while A opens its backlog: fast enough that it outruns the worker.
_START_CONCURRENCY = 32


async def _backlog(env: BenchEnv, task_queue: str) -> int | None:
    """The workflow task backlog the server reports for the queue (`temporal task-queue describe`)."""
    proc = await asyncio.create_subprocess_exec(
        str(temporal_binary()), "task-queue", "describe", "--task-queue", task_queue,
        "--task-queue-type", "workflow", "--address", env.address, "-o", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await proc.communicate()
    try:
        counts = list(_backlog_counts(json.loads(out)))
    except ValueError:
        return None
    return sum(counts) if counts else None


def _backlog_counts(node: object) -> Iterator[int]:
    """Every ApproximateBacklogCount in the answer: one per build and task type it reports."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "approximateBacklogCount":
                yield int(value)
            else:
                yield from _backlog_counts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _backlog_counts(item)


async def _side(env: BenchEnv, mode: str, backlog: int, behind: int) -> tuple[list[float], int | None]:
    """B's open latencies in seconds, and A's backlog as the server reported it when B opened."""
    run = uuid.uuid4().hex[:6]
    a, b = f"bench-a-{run}", f"bench-b-{run}"
    registry = MerchantRegistry(env.pool)
    for merchant in (a, b):
        await registry.add(merchant, merchant)
    task_queue = env.task_queue(f"fair-{mode}")
    client = CaseClient(env.client, task_queue, load_policy(None), fair=mode != "unfair")
    worker = WorkerProcess(env, "real", task_queue, extra=("--max-workflow-tasks", "2"))
    await worker.start()
    gate = asyncio.Semaphore(_START_CONCURRENCY)
    started: dict[str, datetime] = {}

    async def start(merchant: str, n: int) -> str:
        async with gate:
            sent = datetime.now(UTC)
            key, _, _ = await client.start(intake(f"{merchant[:7]}{n}").model_copy(update={"merchant_id": merchant}))
            started[key] = sent
            return key

    queued = None
    if mode != "idle":
        await asyncio.gather(*(start(a, n) for n in range(backlog)))
        queued = await _backlog(env, task_queue)
    keys = await asyncio.gather(*(start(b, n) for n in range(behind)))
    deadline = time.monotonic() + 900
    while True:
        rows = await env.pool.fetch(
            "SELECT case_id, recorded_at FROM case_events WHERE seq = 1 AND case_id = ANY($1::text[])", list(keys)
        )
        if len(rows) == len(keys):
            break
        assert time.monotonic() < deadline, f"{len(keys) - len(rows)} of B's cases never opened ({mode})"
        await asyncio.sleep(0.2)
    await worker.stop()  # A's backlog stays in its own queue, served by no one
    return [max(0.0, (r["recorded_at"] - started[r["case_id"]]).total_seconds()) for r in rows], queued


async def measure(env: BenchEnv, rep: Report, *, backlog: int, behind: int) -> None:
    latencies: dict[str, list[float]] = {}
    for mode in MODES:
        progress(f"fairness: merchant A opens {backlog if mode != 'idle' else 0} at once, then B {behind} ({mode})")
        latencies[mode], queued = await _side(env, mode, backlog, behind)
        if queued is not None:
            progress(f"fairness: workflow task backlog when B opened ({mode}): {queued}")
            rep.add(SECTION, f"A's backlog when B opened, {mode}", queued, None, "tasks",
                    note="temporal task-queue describe: ApproximateBacklogCount")
    idle50, idle99 = percentile(latencies["idle"], 50), percentile(latencies["idle"], 99)
    for mode in ("fair", "unfair"):
        rep.add(SECTION, f"B open p50, {mode}", percentile(latencies[mode], 50), idle50, "s",
                note="baseline = A idle")
        rep.add(SECTION, f"B open p99, {mode}", percentile(latencies[mode], 99), idle99, "s")
    fair = ratio(percentile(latencies["fair"], 50), idle50)
    rep.target(
        "with fairness keys, B's p50 open latency under A's backlog is at most 2x its p50 with A idle",
        fair <= 2.0,
        f"{fair:.2f}x (without keys {ratio(percentile(latencies['unfair'], 50), idle50):.1f}x)",
    )
