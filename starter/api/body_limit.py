"""Bounded request bodies: refused with 413 as soon as they pass the limit, read or not.

A declared Content-Length over the limit is refused before a byte is read; a chunked body is
counted as it arrives and cut off at the limit, so no request can make the API buffer more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from starter.api.problems import send_problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """An HTTP error, so the framework answers it as the 413 it is rather than as a bad body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over the {limit:,} bytes this endpoint accepts")


class BodyLimit:
    def __init__(self, app: App, default: int, per_path_suffix: dict[str, int]) -> None:
        self.app = app
        self.default = default
        self.per_path_suffix = per_path_suffix

    def _limit(self, path: str) -> int:
        for suffix, limit in self.per_path_suffix.items():
            if path.endswith(suffix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, send, limit)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await _too_large(scope, send, limit)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await send_problem(
        send, 413, f"the request body is over the {limit:,} bytes this endpoint accepts", str(scope.get("path", ""))
    )
