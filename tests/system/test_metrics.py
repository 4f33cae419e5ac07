"""The worker's `/metrics` on a dev server: a breach moves the breach counter and the open-case
gauge with the right labels, a replay of the same history in the same process moves nothing, and
the Grafana dashboard reads only series the worker exports.

A policy with a two-second first-response target makes the breach happen in real time; nothing
here waits on a duration, only on the counters reaching what the breach must make them.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tomllib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from cases.policy.snapshot import Policy
from devstack.processes import free_port
from runtime.metrics import OpenCaseGauges, gauging, metrics_runtime
from starter.client import CaseClient, CaseError
from tests.conftest import case_worker, codec_converter
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.metrics_helpers import (
    DASHBOARD,
    PROMETHEUS_MADE,
    ROOT,
    counters,
    dashboard_metrics,
    has,
    scrape,
    value,
)
from tests.support.outbox_helpers import fresh_database
from tests.support.routing_helpers import team_roster
from tests.system.test_worker_dispatch import stop_gracefully, worker_processes
from workflows.case_workflow import AfterSalesCase
from workflows.sandbox import workflow_runner

pytestmark = pytest.mark.devserver

BREACHES = "aftersales_sla_breaches_total"


def quick_policy() -> Policy:
    """The shipped policy with a general first-response target short enough to miss in a test."""
    return Policy.model_validate(tomllib.loads(quick_policy_toml()))


def exported_names(series: dict) -> set[str]:  # type: ignore[type-arg]
    """Sample names, with each histogram's family name besides its _bucket/_sum/_count."""
    names = {name for name, _ in series}
    return names | {n.rsplit("_", 1)[0] for n in names if n.endswith(("_bucket", "_sum", "_count"))}


async def test_breach_is_counted_once_and_shows_in_the_open_case_gauge(dev_server, postgres_dsn):
    port = free_port()
    runtime = metrics_runtime(port, host="127.0.0.1")
    client = await Client.connect(dev_server.address, data_converter=codec_converter(), runtime=runtime)
    async with fresh_database(postgres_dsn) as (_, pool):
        # A team with no agent yet: the case waits in its queue, which the queue gauges show.
        roster = await team_roster(pool, quick_policy())
        gauges = OpenCaseGauges(pool, runtime.metric_meter, interval=0.2)
        async with case_worker(client, pool, roster.policy) as task_queue, gauging(gauges):
            cases = CaseClient(client, task_queue)
            case_id = (await cases.open(intake())).case_id
            queued = await eventually(
                lambda: scrape(port),
                lambda s: value(s, BREACHES) >= 1 and value(s, "aftersales_queue_waiting", team=roster.team) == 1,
                "the breach counter, and the case waiting in its team's queue",
            )
            await cases.act(case_id, "acknowledge", {"actor": "agent-1"})
            series = await eventually(
                lambda: scrape(port),
                lambda s: value(s, "aftersales_open_cases", status="acknowledged", sla_state="breached") == 1,
                "the acknowledged, breached case in the open-case gauge",
            )
            # An explanation needs no approval: it is carried out at once.
            await cases.act(case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
            # A request Temporal refuses, which the SDK counts as a failed request.
            with pytest.raises(CaseError):
                await cases.state("no-such-case")
            resolved = await eventually(
                lambda: scrape(port),
                lambda s: value(s, "aftersales_resolutions_total", plan="explanation") == 1
                and value(s, "aftersales_open_cases", status="awaiting_confirmation") == 1,
                "the resolution counter and the case awaiting confirmation",
            )
            history = await cases.handle(case_id).fetch_history()
            await cases.handle(case_id).terminate("test over")

    assert value(series, BREACHES, clock="first_response", tier="general", task_queue=task_queue) == 1
    assert value(series, BREACHES) == 1
    assert value(series, "aftersales_sla_warnings_total", clock="first_response", tier="general") == 1
    assert value(series, "aftersales_escalations_total", clock="first_response", tier="general") == 1
    assert value(series, "aftersales_escalations_total") == 1
    assert value(series, "aftersales_cases_opened_total", tier="general", category="description_mismatch",
                 channel="app") == 1
    assert value(series, "aftersales_actions_total", action="acknowledge") == 1
    assert has(series, "aftersales_open_cases", status="registered")  # it was registered, then moved on
    assert value(series, "aftersales_open_cases", status="registered") == 0
    assert value(series, "aftersales_gauges_refreshed_seconds") > 0
    assert value(queued, "aftersales_queue_oldest_seconds", team=roster.team) > 0
    # The SDK's own runtime metrics are served on the same port.
    assert value(series, "temporal_worker_task_slots_available") > 0

    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and {p["title"] for p in board["panels"]} >= {"Open cases by SLA state", "Breaches per hour"}
    assert value(resolved, "aftersales_open_cases", status="acknowledged") == 0
    assert has(resolved, "aftersales_queue_waiting", team=roster.team)
    assert value(resolved, "aftersales_queue_waiting", team=roster.team) == 0  # taken off the queue
    missing = dashboard_metrics() - PROMETHEUS_MADE - exported_names(resolved)
    assert not missing, f"the dashboard reads series the worker does not export: {sorted(missing)}"

    before = counters(await scrape(port))
    assert before, "no counters to compare"
    replayer = Replayer(
        workflows=[AfterSalesCase], data_converter=codec_converter(), workflow_runner=workflow_runner(),
        runtime=runtime,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    assert counters(await scrape(port)) == before


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


async def test_prometheus_scrapes_the_breach_from_a_worker_process(dev_server, dev_client, postgres_dsn, tmp_path):
    if not Path(PROMETHEUS).exists():
        pytest.skip("Debian's prometheus is not installed (apt-get install -y prometheus; `make test` does it as root)")
    task_queue = f"metrics-{uuid.uuid4()}"
    metrics_port, prometheus_port = free_port(), free_port()
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(quick_policy_toml())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: aftersales-worker\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    async with fresh_database(postgres_dsn) as (dsn, _):
        env = {"TEMPORAL_ADDRESS": dev_server.address, "DATABASE_URL": dsn, "AFTERSALES_TASK_QUEUE": task_queue,
               "AFTERSALES_POLICY": str(policy_file), "AFTERSALES_METRICS_PORT": str(metrics_port)}
        async with worker_processes([tmp_path / "worker.log"], env) as procs, prometheus_server(
            config, prometheus_port, tmp_path
        ):
            cases = CaseClient(dev_client, task_queue)
            case_id = (await cases.open(intake())).case_id

            async def breaches() -> list[dict]:  # type: ignore[type-arg]
                assert procs[0].returncode is None, (tmp_path / "worker.log").read_text()[-3000:]
                return await prometheus_query(
                    prometheus_port, 'sum by (clock, tier, job) (aftersales_sla_breaches_total)'
                )

            found = await eventually(breaches, lambda r: bool(r), "the breach counter in Prometheus", timeout=90)
            assert [(r["metric"], r["value"][1]) for r in found] == [
                ({"clock": "first_response", "tier": "general", "job": "aftersales-worker"}, "1")
            ]
            up = await prometheus_query(prometheus_port, 'up{job="aftersales-worker"}')
            assert [r["value"][1] for r in up] == ["1"]
            # Every Prometheus query of the dashboard is one this Prometheus accepts (the merchant
            # panels' SQL is run against PostgreSQL by tests/integration/test_dashboard_sql.py).
            board = json.loads(DASHBOARD.read_text())
            targets = [t for p in board["panels"] for t in p.get("targets", []) if "rawSql" not in t]
            assert targets and all("expr" in t for t in targets)
            for target in targets:
                await prometheus_query(prometheus_port, target["expr"])
            await cases.handle(case_id).terminate("test over")
            assert await stop_gracefully(procs) == [0]


def quick_policy_toml() -> str:
    """The shipped policy file with the general first-response target at two seconds."""
    text = (ROOT / "cases" / "default_policy.toml").read_text()
    head, general = text.split("[targets.general]", 1)
    general = re.sub(r'^first_response = "[^"]+"', 'first_response = "2s"', general, count=1, flags=re.M)
    return f"{head}[targets.general]{general}"


@asynccontextmanager
async def prometheus_server(config: Path, port: int, folder: Path) -> AsyncIterator[None]:
    log = folder / "prometheus.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
        )
    try:
        async def ready() -> bool:
            assert proc.returncode is None, log.read_text()[-3000:]
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    return (await http.get(f"http://127.0.0.1:{port}/-/ready")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(ready, bool, "Prometheus ready", timeout=60, interval=0.2)
        yield
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def prometheus_query(port: int, query: str) -> list[dict]:  # type: ignore[type-arg]
    """An instant query through Prometheus's HTTP API: its result vector."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query})
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    result: list[dict] = body["data"]["result"]  # type: ignore[type-arg]
    return result
