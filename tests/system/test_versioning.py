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
from cases.policy import Policy
from devstack.processes import free_port
from devstack.temporal_server import DevServer
from runtime.deployment.build import DEPLOYMENT_NAME, worker_config
from runtime.deployment.server import BuildView, builds, set_current, wait_until_known
from runtime.log import LogContextInterceptor
from starter.client import CaseClient
from tests.changed_case import ChangedCase
from tests.conftest import TEST_CODEC_KEYS, codec_converter
from tests.eventually import eventually
from tests.factories import intake
from worker import activities_for, build_worker
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


async def _builds_of(history: WorkflowHistory) -> set[str]:
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
    first = build_worker(client, task_queue, activities, deployment=worker_config(BUILD_1))
    second = Worker(
        client,
        task_queue=task_queue,
        workflows=[ChangedCase, WebhookDelivery],
        activities=activities,
        interceptors=[LogContextInterceptor()],
        workflow_runner=workflow_runner(),
        deployment_config=worker_config(BUILD_2),
    )
    async with first:
        await wait_until_known(client, BUILD_1, timedelta(seconds=60))
        await set_current(client, BUILD_1)
        stays, moves = intake(case_id=_not_sampled(policy)), intake()
        for case in (stays, moves):
            await cases.open(case)
            await cases.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        await cases.act(stays.case_id, "propose_resolution", {"actor": "agent-1", "type": "explanation"})
        await cases.act(stays.case_id, "confirm", {})
        views = await builds(client, task_queue)
        assert [(v.build_id, v.status, v.open_workflows, v.polled) for v in views] == [
            (BUILD_1, "current", 2, True)
        ]

        async with second:
            await wait_until_known(client, BUILD_2, timedelta(seconds=60))
            assert await set_current(client, BUILD_2) == BUILD_1

            # A new case runs build 2's code: its first command is the timer build 1 lacks.
            fresh = intake()
            await cases.open(fresh)
            await cases.act(fresh.case_id, "acknowledge", {"actor": "agent-2"})
            history = await cases.handle(fresh.case_id).fetch_history()
            assert await _builds_of(history) == {BUILD_2}
            assert any(e.HasField("timer_started_event_attributes") for e in history.events[:8])

            # The case opened on build 1 stays there and completes cleanly.
            closed = await cases.act(stays.case_id, "rate", {"score": 5})
            assert closed.status == Status.CLOSED
            result = await cases.handle(stays.case_id).result()
            assert result.status == Status.CLOSED and result.runs == 1
            history = await cases.handle(stays.case_id).fetch_history()
            assert await _builds_of(history) == {BUILD_1}
            # ... which it had to: build 2 cannot replay that history.
            replayed = await Replayer(
                workflows=[ChangedCase], data_converter=codec_converter(), workflow_runner=workflow_runner()
            ).replay_workflow(history, raise_on_replay_failure=False)
            assert replayed.replay_failure is not None
            assert "nondetermin" in str(replayed.replay_failure).lower()

            # A build-1 case that acts next continues as new, onto build 2, with all it carried.
            handle = cases.handle(moves.case_id)
            first_run = (await handle.describe()).run_id
            noted = await cases.act(moves.case_id, "note", {"actor": "agent-1", "text": "moving"})
            await eventually(handle.describe, lambda d: d.run_id != first_run, "the continued run", timeout=60)
            before = client.get_workflow_handle(handle.id, run_id=first_run)
            assert (await before.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
            assert await _builds_of(await before.fetch_history()) == {BUILD_1}
            moved = await cases.act(moves.case_id, "withdraw", {"reason": "bought elsewhere"})
            assert moved.status == Status.WITHDRAWN and moved.runs == 2
            assert moved.opened_at == noted.opened_at and moved.last_seq > noted.last_seq
            assert (await handle.result()).status == Status.WITHDRAWN
            assert await _builds_of(await handle.fetch_history()) == {BUILD_2}

            # The drain view counts build 1 down to nothing, and the server calls it drained.
            def drained(views: list[BuildView]) -> bool:
                old = _view(views, BUILD_1)
                return old is not None and old.open_workflows == 0 and old.drainage == "drained"

            views = await eventually(
                lambda: builds(client, task_queue), drained, "build 1 to drain", timeout=90, interval=0.5
            )
            new = _view(views, BUILD_2)
            assert new is not None and new.status == "current" and new.open_workflows == 1  # the fresh case

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


def _cli(server: DevServer, task_queue: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env |= {
        "TEMPORAL_ADDRESS": server.address,
        "TEMPORAL_CONFIG_FILE": os.devnull,
        "AFTERSALES_TASK_QUEUE": task_queue,
        "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )
