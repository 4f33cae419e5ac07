"""A webhook subscriber on a real socket, for the webhook tests: starlette served by uvicorn in the
test's own event loop.

Each path is one subscriber with its own secret. Every request is verified with the Standard
Webhooks library exactly as a receiver would (`Webhook(secret).verify(body, headers)`) and kept,
verified or not; the answer is 500 for the first `fail_first` requests of each webhook-id, then 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.processes import free_port


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    timestamp: str
    body: bytes
    payload: Any  # the verified JSON, or None when verification failed
    answered: int


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.port = free_port()
        self.fail_first = fail_first
        self.secrets: dict[str, str] = {}
        self.received: list[Received] = []
        self._seen: dict[tuple[str, str], int] = {}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def for_path(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _hook(self, request: Request) -> Response:
        path = request.path_params["path"]
        body = await request.body()
        headers = dict(request.headers)
        try:
            payload = Webhook(self.secrets[path]).verify(body, headers)
        except (WebhookVerificationError, KeyError):
            payload = None
        webhook_id = headers.get("webhook-id", "")
        seen = self._seen.get((path, webhook_id), 0) + 1
        self._seen[(path, webhook_id)] = seen
        status = 400 if payload is None else (500 if seen <= self.fail_first else 200)
        self.received.append(Received(path, webhook_id, headers.get("webhook-timestamp", ""), body, payload, status))
        return Response(status_code=status)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/{path}", self._hook, methods=["POST"])])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            yield self
        finally:
            server.should_exit = True
            await task
