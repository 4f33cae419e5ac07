"""One benchmark worker process: the production worker (`real`) or the no-op baseline (`baseline`).

Both connect with the production data converter (payload encryption on), use the production
sandbox runner and interceptors, and log through the production logging set-up. The real worker
is exactly `worker.build_worker` over `worker.activities_for`. Every `--status-every` seconds the
process prints one JSON line on stdout: its RSS, how many workflows it holds in its cache, and
how many baseline activities it ran; the parent reads these lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

from temporalio.worker import Worker

from activities.db import create_pool
from bench.baseline import ACTIVITIES, CALLS, NoopCase, NoopTimer
from bench.procstat import rss_kb
from cases.policy.snapshot import load_policy
from runtime.connect import connect
from runtime.log import LogContextInterceptor, configure_logging
from runtime.settings import Settings
from worker import activities_for, build_worker
from workflows.sandbox import workflow_runner


def cached_workflows(worker: Worker) -> int:
    inner = getattr(worker, "_workflow_worker", None)
    running = getattr(inner, "_running_workflows", None)
    return len(running) if running is not None else -1


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--mode", choices=("real", "baseline"), required=True)
    parser.add_argument("--policy", type=Path)
    parser.add_argument("--max-cached", type=int, default=1000)
    parser.add_argument("--status-every", type=float, default=0.5)
    # A starved worker, so that tasks wait in the queue and their priority decides the order.
    parser.add_argument("--max-workflow-tasks", type=int)
    args = parser.parse_args()

    configure_logging()
    settings = Settings.from_env().model_copy(
        update={
            "temporal_address": args.address,
            "task_queue": args.task_queue,
            "database_url": args.dsn,
            "policy_path": args.policy,
        }
    )
    client = await connect(settings, compress=True)  # as the production worker connects
    pool = None
    if args.mode == "real":
        pool = await create_pool(args.dsn)
        policy = load_policy(args.policy)
        worker = build_worker(
            client,
            args.task_queue,
            activities_for(pool, policy),
            max_cached_workflows=args.max_cached,
            max_concurrent_workflow_tasks=args.max_workflow_tasks,
        )
    else:
        worker = Worker(
            client,
            task_queue=args.task_queue,
            workflows=[NoopCase, NoopTimer],
            activities=ACTIVITIES,
            interceptors=[LogContextInterceptor()],
            workflow_runner=workflow_runner(),
            max_cached_workflows=args.max_cached,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def status(**extra: object) -> None:
        line = {
            "pid": os.getpid(),
            "t": time.time(),
            "rss_kb": rss_kb(os.getpid()),
            "cached": cached_workflows(worker),
            "noop_activities": CALLS["activities"],
            **extra,
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    async with worker:
        status(ready=True)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.status_every)
            except TimeoutError:
                status()
    if pool is not None:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
