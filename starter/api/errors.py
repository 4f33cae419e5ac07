"""A `CaseError` from the client as the problem it is over HTTP."""

from __future__ import annotations

from typing import NoReturn

from starter.api.problems import ApiProblem
from starter.client import CaseError

_STATUS = {"invalid": 422, "not_found": 404, "refused": 409, "forbidden": 403, "unavailable": 503}


def raise_for(err: CaseError) -> NoReturn:
    status = _STATUS.get(err.kind, 422)
    headers = {"Retry-After": "1"} if status == 503 else None
    raise ApiProblem(status, str(err)[:500], headers=headers) from err
