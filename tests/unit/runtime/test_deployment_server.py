"""Making a build current when others ask at the same moment: the server's "come back later" is
waited out, any other refusal is passed on at once, and of two first builds only one is made
current by its own worker."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.api.deployment.v1 import WorkerDeploymentVersion
from temporalio.api.enums.v1 import RoutingConfigUpdateState
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentResponse,
    SetWorkerDeploymentCurrentVersionResponse,
)
from temporalio.service import RPCError, RPCStatusCode

from runtime.deployment import server


class Service:
    """The two calls `set_current` makes, answering from a script."""

    def __init__(self, refusals: list[RPCStatusCode], token: bytes = b"t1") -> None:
        self.refusals = refusals
        self.asked = 0
        self.token = token
        self.tokens: list[bytes] = []

    async def set_worker_deployment_current_version(self, request: Any) -> Any:
        self.asked += 1
        self.tokens.append(request.conflict_token)
        if request.conflict_token and request.conflict_token != self.token:
            raise RPCError("conflict token mismatch", RPCStatusCode.FAILED_PRECONDITION, b"")
        if self.refusals:
            raise RPCError("too many requests issued to Worker Deployment", self.refusals.pop(0), b"")
        previous = WorkerDeploymentVersion(deployment_name="aftersales", build_id="old")
        return SetWorkerDeploymentCurrentVersionResponse(previous_deployment_version=previous)

    async def describe_worker_deployment(self, request: Any) -> Any:
        described = DescribeWorkerDeploymentResponse()
        state = RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED
        described.worker_deployment_info.routing_config_update_state = state
        described.conflict_token = self.token
        return described

    async def describe_worker_deployment_version(self, request: Any) -> Any:
        return None


def client(service: Service) -> Any:
    return SimpleNamespace(namespace="default", workflow_service=service)


async def test_a_busy_deployment_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.asyncio, "sleep", _no_wait)
    service = Service([RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.RESOURCE_EXHAUSTED])
    assert await server.set_current(client(service), "new") == "old"
    assert service.asked == 3


async def test_any_other_refusal_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.asyncio, "sleep", _no_wait)
    service = Service([RPCStatusCode.FAILED_PRECONDITION])
    with pytest.raises(RPCError):
        await server.set_current(client(service), "new")
    assert service.asked == 1


async def _no_wait(seconds: float) -> None:
    return None


async def test_the_first_worker_of_two_first_builds_that_loses_the_race_leaves_the_winner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = Service([])
    original = service.describe_worker_deployment

    reads: list[bytes] = []

    async def changed_after_reading(request: Any) -> Any:
        described = await original(request)
        reads.append(described.conflict_token)
        if len(reads) == 2:
            service.token = b"t2"  # the other build was made current right after this read
        return described

    monkeypatch.setattr(service, "describe_worker_deployment", changed_after_reading)
    made = await server.make_current_if_none(client(service), "mine", timedelta(seconds=1))
    assert made is False
    assert service.tokens == [b"t1"]


async def test_the_first_worker_of_a_deployment_makes_its_build_current() -> None:
    service = Service([])
    assert await server.make_current_if_none(client(service), "mine", timedelta(seconds=1)) is True
    assert service.tokens == [b"t1"]
