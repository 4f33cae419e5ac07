"""Shared fixtures: one embedded PostgreSQL and one time-skipping Temporal server per session.

Each test gets its own task queue and its own case ids, so tests never see each other's cases;
database rows are keyed by case id for the same reason.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.db import create_pool
from activities.schema import migrate
from cases.policy.snapshot import Policy, load_policy
from devstack.postgres import EmbeddedPostgres
from runtime.search_attribute_setup import register as register_attributes
from worker import activities_for, build_worker, in_memory_activities
from workflows.codec import parse_keys
from workflows.converter import data_converter

# A fixed key for tests only, so every test (and the golden histories) runs with payload
# encryption on, exactly as deployments do.
TEST_CODEC_KEYS = "test-k1:dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="


def codec_converter():  # type: ignore[no-untyped-def]
    return data_converter(parse_keys(TEST_CODEC_KEYS), compress=True)


def binary(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        raise RuntimeError(f"{name} is not installed; run `make test`, which installs it")
    return path


async def register_search_attributes(client: Client) -> None:
    await register_attributes(client, client.namespace)


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    dsn = server.start()
    yield dsn
    server.stop()


@pytest.fixture(scope="session")
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(postgres_dsn)
    pool = await create_pool(postgres_dsn)
    yield pool
    await pool.close()


# One time-skipping server per test module: a module that leaves work in flight (an activity
# retrying, a timer about to fire) must not hold the clock of the next module's tests.
@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=codec_converter(),
        test_server_existing_path=binary("temporal-test-server"),
    )
    await register_search_attributes(environment.client)
    async with environment:
        yield environment


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is always rolled back."""
    async with pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(None)


@asynccontextmanager
async def case_worker(
    client: Client,
    pool: asyncpg.Pool,
    policy: Policy,
    activities: Sequence[Any] | None = None,
    **providers: Any,
) -> AsyncIterator[str]:
    """A worker on a fresh task queue; yields the task queue name."""
    task_queue = f"tq-{uuid.uuid4()}"
    acts = activities if activities is not None else activities_for(pool, policy, **providers)
    async with build_worker(client, task_queue, acts):
        yield task_queue


@asynccontextmanager
async def memory_worker(client: Client, policy: Policy, **providers: Any) -> AsyncIterator[str]:
    """A worker over in-memory providers on a fresh task queue: no PostgreSQL needed."""
    task_queue = f"tq-{uuid.uuid4()}"
    async with build_worker(client, task_queue, in_memory_activities(policy, **providers)):
        yield task_queue


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real Temporal dev server (headless) on free ports, with the search attributes registered."""
    from devstack.processes import free_port
    from devstack.temporal_server import DevServer

    server = DevServer(
        db_file=tmp_path_factory.mktemp("temporal") / "temporal.db",
        port=free_port(),
        ui_port=None,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def dev_client(dev_server: Any) -> Client:
    return await Client.connect(dev_server.address, data_converter=codec_converter())


# The slowest files, longest first. `make test` runs two processes that each take whole files;
# a long file that starts last leaves one process working alone at the end, so these start first
# and the many short files fill in around them (with --no-loadscope-reorder, which would otherwise
# order files by their number of tests and put these one-test files last).
SLOWEST_FIRST = (
    "tests/system/test_load.py",
    "tests/system/test_faults.py",
    "tests/system/test_api.py",
    "tests/system/test_api_schema.py",
    "tests/system/test_exactly_once.py",
    "tests/system/test_routing_at_scale.py",
    "tests/system/test_merchant_isolation.py",
    "tests/system/test_fairness.py",
    "tests/integration/test_replay.py",
    "tests/system/test_cli.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
