"""Errors as RFC 9457 problem details (`application/problem+json`), each naming the field or the
problem, and never echoing what the caller sent: a secret pasted into the wrong field stays out
of the answer and out of the logs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from runtime.log import get_logger

log = get_logger("aftersales.api")

MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="forbid")

    type: str = "about:blank"
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str | None = None
    errors: list[FieldError] = []


class ApiProblem(Exception):
    """Raised by a route to answer with a problem: the status and one line saying why."""

    def __init__(
        self, status: int, detail: str, *, errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(
    request: Request, status: int, detail: str, errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=_TITLES.get(status, "Error"), status=status, detail=detail,
        instance=request.url.path[:200], errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status, media_type=MEDIA_TYPE,
        headers=headers,
    )


async def send_problem(
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    status: int,
    detail: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with a problem from ASGI middleware, before the app (and its handlers) runs."""
    body = Problem(title=_TITLES.get(status, "Error"), status=status, detail=detail, instance=path[:200])
    data = body.model_dump_json(exclude_none=True).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def field_errors(errors: list[Any]) -> list[FieldError]:
    """Pydantic's errors as (field, message), without the rejected input (it may be a secret)."""
    out = []
    for err in errors[:20]:
        if err.get("type") == "json_invalid":
            reason = str((err.get("ctx") or {}).get("error", "invalid"))[:100]
            out.append(FieldError(field="body", message=f"not valid JSON ({reason})"))
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        out.append(FieldError(field=".".join(loc) or "body", message=str(err.get("msg", "invalid"))[:300]))
    return out


# Documented on every route, so schema checks know each answer's shape.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": _TITLES[status], "content": {MEDIA_TYPE: {}}}
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
}


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes on this request's path, found by asking the
    routes themselves (included routers answer for their own routes)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()))
        first = errors[0] if errors else FieldError(field="body", message="invalid")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem_response(request, 422, f"{first.field}: {first.message}{more}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The framework names the methods of the first route on the path; say them all.
            headers["Allow"] = ", ".join(allowed_methods(request))
        cause = exc.__cause__
        if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
            message = f"not valid UTF-8 (byte {cause.start})"
            return problem_response(request, 400, f"body: {message}", [FieldError(field="body", message=message)])
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
        return problem_response(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The type only: a message could carry the payload that caused it.
        log.error("request failed", path=request.url.path[:200], error=type(exc).__name__)
        return problem_response(request, 500, "the request could not be completed; it is safe to retry")
