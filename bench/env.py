"""The benchmark environment: one headless dev server, one embedded PostgreSQL, worker processes.

Everything lives in one temporary folder that is removed at the end. Worker processes are
children of this process, each in its own process group, and are stopped by their own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    QueryWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
    WorkflowUpdateHandle,
)
from temporalio.converter import DataConverter

from activities.db import create_pool
from activities.schema import migrate
from bench.procstat import cpu_seconds, tree_cpu_seconds
from devstack.postgres import EmbeddedPostgres
from devstack.processes import free_port
from devstack.temporal_server import DevServer
from workflows.codec import parse_keys
from workflows.converter import data_converter

ROOT = Path(__file__).resolve().parent.parent

# The test suite's fixed key (tests/conftest.py), so payloads are encrypted as in production.
TEST_CODEC_KEYS = "test-k1:dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="


def bench_converter() -> DataConverter:
    return data_converter(parse_keys(TEST_CODEC_KEYS), compress=True)


class ClientCalls(Interceptor):
    """Queries and update calls this process sent, per workflow id.

    Both are billable and neither is fully in the history: a query never is, and a rejected
    update leaves no event, so they are counted where they are sent.
    """

    def __init__(self) -> None:
        self.queries: Counter[str] = Counter()
        self.updates: Counter[str] = Counter()

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Counting(next, self)


class _Counting(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, calls: ClientCalls) -> None:
        super().__init__(next)
        self._calls = calls

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        self._calls.queries[input.id] += 1
        return await super().query_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> WorkflowUpdateHandle[Any]:
        self._calls.updates[input.id] += 1
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: StartWorkflowUpdateWithStartInput
    ) -> WorkflowUpdateHandle[Any]:
        self._calls.updates[input.start_workflow_input.id] += 1
        return await super().start_update_with_start_workflow(input)


class WorkerProcess:
    """`python -m bench.worker_proc` as a child process; its status lines are kept as they come."""

    def __init__(
        self,
        env: BenchEnv,
        mode: str,
        task_queue: str,
        *,
        max_cached: int = 1000,
        policy: Path | None = None,
        name: str | None = None,
        root: Path = ROOT,
        status_every: float = 0.5,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.extra = extra
        self.env = env
        self.root = root
        self.status_every = status_every
        self.mode = mode
        self.task_queue = task_queue
        self.max_cached = max_cached
        self.policy = policy
        self.name = name or f"{mode}-{task_queue[-6:]}"
        self.proc: asyncio.subprocess.Process | None = None
        self.status: dict[str, Any] = {}
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 60.0) -> WorkerProcess:
        args = [
            sys.executable,
            "-m",
            "bench.worker_proc",
            "--address",
            self.env.address,
            "--dsn",
            self.env.dsn,
            "--task-queue",
            self.task_queue,
            "--mode",
            self.mode,
            "--max-cached",
            str(self.max_cached),
            "--status-every",
            str(self.status_every),
        ]
        if self.policy is not None:
            args += ["--policy", str(self.policy)]
        args += list(self.extra)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TEMPORAL_") and k not in ("AFTERSALES_POLICY", "DATABASE_URL")
        }
        env |= {"PYTHONPATH": str(self.root), "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS}
        if self.env.bytecode_cache:
            # As in an installed package (pip compiles it): the sandbox re-imports the workflow
            # module for every run, and without bytecode it would compile it from source each time.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.env.pycache)
        log = open(self.env.tmp / f"worker-{self.name}.log", "ab")  # noqa: SIM115
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=self.root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                process_group=0,
                limit=1 << 20,
            )
        finally:
            log.close()
        self.env.workers.append(self)
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            raise RuntimeError(f"worker {self.name} did not start; see {self.env.tmp}") from None
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.status = json.loads(line)
                if self.status.get("ready"):
                    self._ready.set()

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.proc is not None else 0.0

    async def stop(self, grace: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self in self.env.workers:
            self.env.workers.remove(self)


class BenchEnv:
    """Dev server + PostgreSQL + a client and pool in this process."""

    def __init__(self, *, bytecode_cache: bool = True) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="aftersales-bench-"))
        self.bytecode_cache = bytecode_cache
        # Bytecode goes to the temporary folder, never beside the sources.
        self.pycache = self.tmp / "pycache"
        if bytecode_cache:
            sys.pycache_prefix = str(self.pycache)
            sys.dont_write_bytecode = False
        self.server = DevServer(
            db_file=self.tmp / "temporal.db",
            port=free_port(),
            ui_port=None,
            log_file=self.tmp / "devserver.log",
        )
        self.postgres = EmbeddedPostgres(self.tmp / "pg")
        self.dsn = ""
        self.client: Client
        self.pool: asyncpg.Pool
        self.converter = bench_converter()
        self.calls = ClientCalls()
        self.workers: list[WorkerProcess] = []
        self.run_id = uuid.uuid4().hex[:6]

    @property
    def address(self) -> str:
        return self.server.address

    def task_queue(self, label: str) -> str:
        return f"bench-{label}-{uuid.uuid4().hex[:6]}"

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)
        self.dsn = await asyncio.to_thread(self.postgres.start)
        await migrate(self.dsn)
        self.pool = await create_pool(self.dsn, max_size=10)
        self.client = await Client.connect(
            self.address, data_converter=self.converter, interceptors=[self.calls]
        )

    async def close(self, keep: bool = False) -> None:
        for worker in list(self.workers):
            with contextlib.suppress(Exception):
                await worker.stop(grace=5.0)
        with contextlib.suppress(Exception):
            await self.pool.close()
        with contextlib.suppress(Exception):
            self.server.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- CPU accounting for a measured interval --------------------------------------------------

    def cpu_snapshot(self, workers: list[WorkerProcess]) -> dict[str, float]:
        pg = self.postgres.pid
        return {
            "worker": sum(w.cpu() for w in workers),
            "temporal": cpu_seconds(self.server.pid or 0, reaped_children=True),
            "postgres": tree_cpu_seconds(pg) if pg else 0.0,
            "client": time.process_time(),
        }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before}
