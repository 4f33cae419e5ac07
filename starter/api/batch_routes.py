"""`POST /v1/cases:batch`: many cases from one JSON Lines body, as a product recall (产品召回) opens them.

Every line is checked before any case is started, and the answer reports each line: the case it
opened (or found already open), or why it was refused, naming the field. Starts are paced to the
API's batch rate per merchant (starter/api/pacing.py), so a recall of thousands does not starve the
cases already open, its own merchant's or another's. With an
Idempotency-Key, a line without a case id gets one derived from the key and its line number, so
a batch sent again opens nothing twice.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, ValidationError

from cases.actions.parsing import validation_message
from cases.actions.roles import OPENERS
from cases.models import CaseIntake
from starter.api.auth import Caller, requires
from starter.api.case_routes import idempotent_case_id
from starter.api.problems import PROBLEM_RESPONSES, ApiProblem
from starter.api.scope import intake_for, require_merchant
from starter.api.services import ServicesDep
from starter.client import CaseError

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

MAX_LINES = 10_000
MAX_LINE_BYTES = 64 * 1024
MEDIA_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
# Starts in flight at once; the pace, not this, sets the rate.
_CONCURRENCY = 16


class LineResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int
    case_id: str | None = None
    created: bool | None = None
    error: str | None = None


class BatchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: int
    opened: int
    existing: int
    failed: int
    results: list[LineResult]


def parse_lines(
    body: bytes, principal: str, idempotency_key: str | None, merchant_id: str | None = None
) -> tuple[list[LineResult], list[CaseIntake]]:
    """Each non-blank line as an intake a key of `merchant_id` (None: the platform) may open, or
    its error; ids the batch repeats are refused."""
    results: list[LineResult] = []
    intakes: list[CaseIntake] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        if len(results) >= MAX_LINES:
            raise ApiProblem(413, f"the batch has more than {MAX_LINES:,} lines; send it in parts")
        result = LineResult(line=number)
        results.append(result)
        if len(raw) > MAX_LINE_BYTES:
            result.error = f"the line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,} a case accepts"
            continue
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as err:
            result.error = f"not JSON: {str(err).split(':')[0][:80]}"
            continue
        if not isinstance(value, dict):
            result.error = "the line must be a JSON object (CaseIntake)"
            continue
        try:
            intake = intake_for(merchant_id, CaseIntake.model_validate(value))
        except ValidationError as err:
            result.error = validation_message(err)[:500]
            continue
        except ApiProblem as err:
            result.error = err.detail
            continue
        if intake.case_id is None and idempotency_key is not None:
            line_key = f"{idempotency_key}#{number}"
            intake = intake.model_copy(
                update={"case_id": idempotent_case_id(principal, line_key, intake.merchant_id)}
            )
        if intake.case_id is not None:
            if intake.key in seen:
                result.error = f"case_id: {intake.case_id} is already on line {seen[intake.key]}"
                continue
            seen[intake.key] = number
        intakes.append(intake)
    return results, intakes


@router.post(
    "/cases:batch",
    response_model=BatchResult,
    summary="Open many cases from JSON Lines, one CaseIntake per line, reported per line",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "description": "One CaseIntake JSON per line"}}
                        for t in MEDIA_TYPES},
        }
    },
)
async def open_batch(
    who: Annotated[Caller, Depends(requires(OPENERS, "opening cases"))],
    svc: ServicesDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> BatchResult:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise ApiProblem(415, f"content-type: send JSON Lines as {MEDIA_TYPES[0]}")
    results, intakes = parse_lines(await request.body(), who.principal, idempotency_key, who.merchant_id)
    if not results:
        raise ApiProblem(422, "body: the batch has no lines")
    by_id = {r.line: r for r in results}
    lines = [r.line for r in results if r.error is None]
    gate = asyncio.Semaphore(_CONCURRENCY)

    async def start(line: int, intake: CaseIntake) -> None:
        async with gate:
            try:
                weight = await require_merchant(svc.pool, intake.merchant_id)
            except ApiProblem as err:
                by_id[line].error = err.detail
                return
            await svc.batch_paces.of(intake.merchant_id).wait()
            try:
                case_id, _, created = await svc.cases.start(intake, weight=weight)
            except CaseError as err:
                by_id[line].error = str(err)[:500]
                return
            by_id[line].case_id, by_id[line].created = case_id, created

    await asyncio.gather(*(start(line, intake) for line, intake in zip(lines, intakes, strict=True)))
    return BatchResult(
        lines=len(results),
        opened=sum(1 for r in results if r.created is True),
        existing=sum(1 for r in results if r.created is False),
        failed=sum(1 for r in results if r.error is not None),
        results=results,
    )
