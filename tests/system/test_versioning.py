"""Two builds of the worker on one dev server: cases stay on the build they started on, new cases
start on the current build, a case that continues as new moves to it, and the drain view counts
the old build down to nothing.

Build 2 carries a change that cannot replay build 1's histories (a timer before the policy is
captured), which is exactly what a versioned deployment must make safe. The server checks drainage
every second here instead of every three minutes.
"""


import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer, Worker

from cases.models import Status
from cases.policy.snapshot import Policy
from devstack.builds import put_in_service
from devstack.processes import free_port
from devstack.temporal_server import DevServer
from runtime.deployment.build import DEPLOYMENT_NAME, worker_config
from runtime.deployment.server import BuildView, builds, current_build, set_current, wait_until_known
from runtime.log import LogContextInterceptor
from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS, codec_converter
from tests.support.changed_case import ChangedCase
from tests.support.eventually import eventually
from tests.support.factories import intake
from worker import activities_for, build_worker, take_place
from workflows.case_workflow import AfterSalesCase
from workflows.sandbox import workflow_runner
from workflows.webhook_delivery import WebhookDelivery

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]
BUILD_1, BUILD_2 = "build-1", "build-2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A dev server of this module's own: it makes builds current, which no other test expects."""
    dev = DevServer(
        db_file=tmp_path_factory.mktemp("versioning") / "temporal.db",
        port=free_port(),
        ui_port=None,
        drain_check=timedelta(seconds=1),
    )
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
async def client(server: DevServer) -> AsyncIterator[Client]:
    yield await Client.connect(server.address, data_converter=codec_converter())


def _not_sampled(policy: Policy) -> str:
    """A case id outside the follow-up sample, so a rating of 5 closes the case."""
    snapshot = policy.snapshot(datetime.now(UTC))
    while snapshot.in_follow_up_sample(case_id := f"v-{uuid.uuid4().hex[:10]}"):
        pass
    return case_id


def _builds_of(history: WorkflowHistory) -> set[str]:
    return {
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.HasField("workflow_task_completed_event_attributes")
    }


def _view(views: list[BuildView], build: str) -> BuildView | None:
    return next((v for v in views if v.build_id == build), None)


async def test_two_builds_drain_the_old_one(server: DevServer, client: Client, pool: Any, policy: Policy) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    activities = activities_for(pool, policy)
    cases = CaseClient(client, task_queue)
    second = Worker(
        client,
        task_queue=task_queue,
        workflows=[ChangedCase, WebhookDelivery],
        activities=activities,
        interceptors=[LogContextInterceptor()],
        workflow_runner=workflow_runner(),
        deployment_config=worker_config(BUILD_2),
    )
    async with second:  # deployed, not current: it is sent no case yet
        async with build_worker(client, task_queue, activities, deployment=worker_config(BUILD_1)):
            # The first worker of a deployment with no current build makes its own current.
            await take_place(client, BUILD_1)
            assert await current_build(client) == BUILD_1
            stays, moves, stranded = intake(case_id=_not_sampled(policy)), intake(), intake()
            for case in (stays, moves, stranded):
                await cases.open(case)
                await cases.act(case.case_id, "acknowledge", {"actor": "agent-1"})
            await cases.act(stays.case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
            await cases.act(stays.case_id, "confirm", {})
            await wait_until_known(client, BUILD_2, timedelta(seconds=60))
            expected = {BUILD_1: ("current", 3, True), BUILD_2: ("inactive", 0, True)}
            await eventually(  # visibility is written a moment after the history
                lambda: builds(client, task_queue),
                lambda views: {v.build_id: (v.status, v.open_workflows, v.polled) for v in views} == expected,
                "both builds in the drain view", interval=0.2,
            )
            # A later worker of another build never takes the place of the current one.
            await take_place(client, BUILD_2)
            assert await current_build(client) == BUILD_1

            assert await set_current(client, BUILD_2) == BUILD_1
            await _a_new_case_runs_build_2(cases)
            await _a_build_1_case_stays_there_to_its_end(cases, stays.case_id)
            await _a_build_1_case_that_acts_moves_to_build_2(cases, moves.case_id)

        # Build 1's workers are gone and one of its cases is left: `aftersales up` says so.
        def warned(lines: list[str]) -> bool:
            return any(f"1 open workflow(s) are pinned to build {BUILD_1}" in line for line in lines)

        await eventually(
            lambda: put_in_service(server.address, "default", task_queue, BUILD_2, timedelta(seconds=1)),
            warned, "the warning about build 1", timeout=30, interval=0.5,
        )
        async with build_worker(client, task_queue, activities, deployment=worker_config(BUILD_1)):
            await _a_build_1_case_that_acts_moves_to_build_2(cases, stranded.case_id)
        await _build_1_drains(server, client, task_queue)


async def _a_new_case_runs_build_2(cases: CaseClient) -> None:
    """Its first command is the timer build 1 lacks."""
    fresh = intake()
    await cases.open(fresh)
    await cases.act(fresh.case_id, "withdraw", {"reason": "opened by mistake"})
    history = await cases.handle(fresh.case_id).fetch_history()
    assert _builds_of(history) == {BUILD_2}
    assert any(e.HasField("timer_started_event_attributes") for e in history.events[:8])


async def _a_build_1_case_stays_there_to_its_end(cases: CaseClient, case_id: str) -> None:
    closed = await cases.act(case_id, "rate", {"score": 5})
    assert closed.status == Status.CLOSED
    result = await cases.handle(case_id).result()
    assert result.status == Status.CLOSED and (await cases.state(case_id)).runs == 1
    history = await cases.handle(case_id).fetch_history()
    assert _builds_of(history) == {BUILD_1}
    # ... which it had to: build 2 cannot replay that history.
    replayed = await Replayer(
        workflows=[ChangedCase], data_converter=codec_converter(), workflow_runner=workflow_runner()
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is not None
    assert "nondetermin" in str(replayed.replay_failure).lower()


async def _a_build_1_case_that_acts_moves_to_build_2(cases: CaseClient, case_id: str) -> None:
    """It continues as new onto the current build, with everything it carried."""
    handle = cases.handle(case_id)
    first_run = (await handle.describe()).run_id
    await cases.act(case_id, "note", {"actor": "agent-1", "text": "moving"})
    await eventually(handle.describe, lambda d: d.run_id != first_run, "the continued run", timeout=60)
    before = cases.client.get_workflow_handle(handle.id, run_id=first_run)
    assert (await before.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    noted = await before.query(AfterSalesCase.state)  # the first run answers from its history
    assert _builds_of(await before.fetch_history()) == {BUILD_1}
    carried = await cases.wait_for_state(case_id)
    assert carried.runs == 2
    moved = await cases.act(case_id, "withdraw", {"reason": "bought elsewhere"})
    assert moved.status == Status.WITHDRAWN and carried.opened_at == noted.opened_at
    assert moved.last_seq > noted.last_seq
    assert (await handle.result()).status == Status.WITHDRAWN
    assert _builds_of(await handle.fetch_history()) == {BUILD_2}


async def _build_1_drains(server: DevServer, client: Client, task_queue: str) -> None:
    """The drain view counts build 1 down to nothing, and the server calls it drained."""

    def drained(views: list[BuildView]) -> bool:
        old = _view(views, BUILD_1)
        return old is not None and old.open_workflows == 0 and old.drainage == "drained"

    views = await eventually(lambda: builds(client, task_queue), drained, "build 1 to drain", timeout=90, interval=0.5)
    new = _view(views, BUILD_2)
    assert new is not None and (new.status, new.open_workflows, new.polled) == ("current", 0, True)

    shown = _cli(server, task_queue, "deployments")
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    assert printed["deployment"] == DEPLOYMENT_NAME and printed["current"] == BUILD_2
    old = next(b for b in printed["builds"] if b["build_id"] == BUILD_1)
    assert (old["open_workflows"], old["drainage"]) == (0, "drained")

    # A build no worker of which ever polled is refused in one line.
    refused = _cli(server, task_queue, "deployments", "set-current", "no-such-build")
    assert refused.returncode == 2 and refused.stdout == ""
    assert len(refused.stderr.strip().splitlines()) == 1 and "no-such-build" in refused.stderr


async def test_the_setup_job_names_the_first_build_before_any_worker(tmp_path: Path) -> None:
    """`aftersales deployments set-current --allow-no-pollers` on a server that has never seen the
    deployment: the compose setup job's step, which must not fail the stack's start."""
    with DevServer(db_file=tmp_path / "temporal.db", port=free_port(), ui_port=None) as fresh:
        named = _cli(fresh, "aftersales", "deployments", "set-current", "--allow-no-pollers", build="setup-build")
        assert named.returncode == 0, named.stderr
        assert json.loads(named.stdout) == {"deployment": DEPLOYMENT_NAME, "current": "setup-build", "previous": None}
        again = _cli(fresh, "aftersales", "deployments", "set-current", "--allow-no-pollers", build="setup-build")
        assert again.returncode == 0 and json.loads(again.stdout)["previous"] == "setup-build"
        client = await Client.connect(fresh.address)
        assert await current_build(client) == "setup-build"



def _cli(server: DevServer, task_queue: str, *args: str, build: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env |= {
        "TEMPORAL_ADDRESS": server.address,
        "TEMPORAL_CONFIG_FILE": os.devnull,
        "AFTERSALES_TASK_QUEUE": task_queue,
        "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS,
        "AFTERSALES_BUILD_ID": build,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )
