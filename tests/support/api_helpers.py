"""A real `aftersales api` process for tests: the dev server, the session's PostgreSQL, an
in-process worker on a fresh task queue, and the API as its own process on a free port.

Tests talk to it with a real HTTP client, as a backend would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client

from cases.actions.roles import Role
from cases.policy.snapshot import Policy
from devstack.processes import free_port, stop_process_group
from starter.api.keys import KeyStore
from tests.conftest import TEST_CODEC_KEYS, case_worker, codec_converter

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveApi:
    url: str
    task_queue: str
    pool: asyncpg.Pool
    log: Path
    temporal: Client

    async def key(self, role: Role | str, principal: str | None = None) -> str:
        role = Role(role)
        created = await KeyStore(self.pool).create(principal or f"{role.value}-{os.urandom(3).hex()}", role)
        return created.secret

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=60, **kwargs)


@asynccontextmanager
async def live_api(
    dev_server: Any, postgres_dsn: str, pool: asyncpg.Pool, policy: Policy, tmp: Path, **env: str
) -> AsyncIterator[LiveApi]:
    client = await Client.connect(dev_server.address, data_converter=codec_converter())
    async with case_worker(client, pool, policy) as task_queue:
        port = free_port()
        log = tmp / "api.log"
        variables = {
            **os.environ,
            "TEMPORAL_ADDRESS": dev_server.address,
            "DATABASE_URL": postgres_dsn,
            "AFTERSALES_TASK_QUEUE": task_queue,
            "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS,
            "AFTERSALES_API_BIND": f"127.0.0.1:{port}",
            "AFTERSALES_HOME": str(tmp / "home"),
            **env,
        }
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "starter.cli", "api"], cwd=ROOT, env=variables, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            await _wait_healthy(url, proc, log)
            yield LiveApi(url=url, task_queue=task_queue, pool=pool, log=log, temporal=client)
        finally:
            stop_process_group(proc)


async def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"aftersales api exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"aftersales api did not answer in 60 s:\n{log.read_text()[-3000:]}")
