"""Request bodies are JSON: any other content type, or none, is refused with 415 before parsing.

Without this, a body sent as `text/plain` or as a form, or with no content type at all, reached
the model as a string and came back as a 422 about a dictionary, which tells the caller nothing
about what went wrong. A request with no body (an action whose fields are all optional) needs no
content type. The batch route takes JSON Lines and checks its own media types.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from starter.api.problems import send_problem

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
DETAIL = "content-type: send the body as application/json"


class JsonBodies:
    def __init__(self, app: ASGIApp, exempt_suffixes: tuple[str, ...]) -> None:
        self.app = app
        self.exempt_suffixes = exempt_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _WITH_BODY
            and not str(scope.get("path", "")).endswith(self.exempt_suffixes)
            and _has_body(scope)
            and not _is_json(scope)
        ):
            await _unsupported(scope, send)
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    return dict(scope.get("headers") or []).get(name)


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    if length is not None:
        return length.strip() not in (b"", b"0")
    return _header(scope, b"transfer-encoding") is not None


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


async def _unsupported(scope: Scope, send: Send) -> None:
    await send_problem(send, 415, DETAIL, str(scope.get("path", "")), [(b"accept", b"application/json")])
