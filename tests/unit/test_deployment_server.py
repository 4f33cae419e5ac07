"""Making a build current when others ask at the same moment: the server's "come back later" is
waited out, and any other refusal is passed on at once."""

from __future__ import annotations

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

    def __init__(self, refusals: list[RPCStatusCode]) -> None:
        self.refusals = refusals
        self.asked = 0

    async def set_worker_deployment_current_version(self, request: Any) -> Any:
        self.asked += 1
        if self.refusals:
            raise RPCError("too many requests issued to Worker Deployment", self.refusals.pop(0), b"")
        previous = WorkerDeploymentVersion(deployment_name="aftersales", build_id="old")
        return SetWorkerDeploymentCurrentVersionResponse(previous_deployment_version=previous)

    async def describe_worker_deployment(self, request: Any) -> Any:
        described = DescribeWorkerDeploymentResponse()
        state = RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED
        described.worker_deployment_info.routing_config_update_state = state
        return described


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
