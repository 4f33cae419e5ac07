"""A `CaseError` from the client as the problem it is over HTTP: the app's one handler for it."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from starter.api.problems import problem_response
from starter.client import CaseError

_STATUS = {"invalid": 422, "not_found": 404, "refused": 409, "forbidden": 403, "unavailable": 503}


async def case_problem(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, CaseError)
    status = _STATUS.get(err.kind, 422)
    headers = {"Retry-After": "1"} if status == 503 else None
    return problem_response(request, status, str(err)[:500], headers=headers)
