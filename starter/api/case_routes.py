"""`/v1/cases…`: open a case, read one, list them through visibility, act, and read the timeline.

Every route is a thin call through `CaseClient`; the case itself validates and decides. The API
adds who the caller is (the actor is the key's principal) and what their role may do.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from cases.actions.registry import ACTION_MODELS, may
from cases.actions.roles import OPENERS, READERS
from cases.ids import CASE_REF_PATTERN, DEFAULT_MERCHANT, MERCHANT_ID_PATTERN
from cases.models import CaseIntake, CaseState, Status, Tier
from starter.api.action_bodies import action_model, body_model
from starter.api.auth import Caller, requires
from starter.api.events import case_events
from starter.api.problems import PROBLEM_RESPONSES, ApiProblem
from starter.api.scope import case_key_for, intake_for, require_merchant, shown
from starter.api.services import ServicesDep
from starter.client import CaseSummary, OpenResult

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

CaseIdPath = Annotated[
    str,
    Path(
        pattern=CASE_REF_PATTERN,
        description="The case id (a merchant's key names its own cases), or the case key `merchant~case_id`",
    ),
]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$"


class CaseList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cases: list[CaseSummary]
    next_cursor: str | None = None


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int
    type: str
    actor: str
    at: datetime
    data: dict[str, Any]


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    events: list[TimelineEntry]
    next_after: int | None = None


def idempotent_case_id(principal: str, key: str, merchant_id: str = DEFAULT_MERCHANT) -> str:
    """The case id an Idempotency-Key stands for: the same key from the same caller of the same
    merchant, the same case."""
    digest = hashlib.sha256(f"{merchant_id}\n{principal}\n{key}".encode()).hexdigest()
    return f"ik-{digest[:24]}"


@router.post(
    "/cases",
    status_code=201,
    response_model=OpenResult,
    responses={200: {"model": OpenResult, "description": "The case already exists"}},
    summary="Open a case (idempotent on case_id, or on Idempotency-Key)",
)
async def open_case(
    who: Annotated[Caller, Depends(requires(OPENERS, "opening a case"))],
    svc: ServicesDep,
    intake: CaseIntake,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> OpenResult:
    intake = intake_for(who.merchant_id, intake)
    weight = await require_merchant(svc.pool, intake.merchant_id)
    if intake.case_id is None and idempotency_key is not None:
        intake = intake.model_copy(
            update={"case_id": idempotent_case_id(who.principal, idempotency_key, intake.merchant_id)}
        )
    opened = await svc.cases.open(intake, weight=weight)
    if not opened.created and idempotency_key is not None:
        existing = await svc.cases.state(opened.case_id)
        if existing.intake.model_dump(exclude={"case_id"}) != intake.model_dump(exclude={"case_id"}):
            raise ApiProblem(422, "Idempotency-Key: already used for a different case; use a new key")
    response.status_code = 201 if opened.created else 200
    return opened


@router.get("/cases/{case_id}", response_model=CaseState, summary="The full state of a case")
async def get_case(
    who: Annotated[Caller, Depends(requires(READERS, "reading a case"))],
    svc: ServicesDep,
    case_id: CaseIdPath,
) -> CaseState:
    state = await svc.cases.state(case_key_for(who, case_id))
    return await shown(svc.pool, who, state, "GET /v1/cases/{case_id}")


@router.get("/cases", response_model=CaseList, summary="Cases by tier, status, SLA state or handler")
async def list_cases(
    who: Annotated[Caller, Depends(requires(READERS, "listing cases"))],
    svc: ServicesDep,
    tier: Tier | None = None,
    status: Status | None = None,
    sla_state: Annotated[str | None, Query(pattern=r"^(running|paused|warned|met|breached)$")] = None,
    handler: Annotated[str | None, Query(pattern=_NAME)] = None,
    team: Annotated[str | None, Query(pattern=_NAME)] = None,
    merchant: Annotated[
        str | None,
        Query(pattern=MERCHANT_ID_PATTERN, description="A platform key's filter; a merchant's key sees its own"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096, pattern=r"^[A-Za-z0-9_\-]+$")] = None,
) -> CaseList:
    # Every value is an enum or matches a strict pattern, so none can change the query's shape.
    terms = [
        f"{attr} = '{value}'"
        for attr, value in (
            ("CaseTier", tier.value if tier else None),
            ("CaseStatus", status.value if status else None),
            ("SlaState", sla_state),
            ("CaseHandler", handler),
            ("CaseTeam", team),
            ("MerchantId", who.merchant_id or merchant),
        )
        if value is not None
    ]
    if who.merchant_id is not None and merchant not in (None, who.merchant_id):
        return CaseList(cases=[])  # another merchant's cases: as if there were none
    token = None
    if cursor is not None:
        token = svc.signing.open_cursor(cursor)
        if token is None:
            raise ApiProblem(422, "cursor: not a cursor this API gave out")
    found, next_token = await svc.cases.page(" AND ".join(terms) or None, limit, token)
    return CaseList(cases=list(found), next_cursor=svc.signing.sign_cursor(next_token) if next_token else None)


@router.get("/cases/{case_id}/timeline", response_model=Timeline, summary="The audit trail, from PostgreSQL")
async def timeline(
    who: Annotated[Caller, Depends(requires(READERS, "reading a timeline"))],
    svc: ServicesDep,
    case_id: CaseIdPath,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Events after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> Timeline:
    key = case_key_for(who, case_id)
    found = await case_events(svc.pool, key, after, limit)
    if not found and after == 0:
        await svc.cases.state(key)  # a case whose first events are not in the record yet
    events = [TimelineEntry.model_validate(e.model_dump()) for e in found]
    more = len(events) == limit
    return Timeline(case_id=key, events=events, next_after=events[-1].seq if more else None)


def _add_action_route(action: str) -> None:
    body = body_model(action)

    async def act(
        who: Annotated[Caller, Depends(requires(READERS, action))],
        svc: ServicesDep,
        case_id: CaseIdPath,
        data: body,  # type: ignore[valid-type]
    ) -> CaseState:
        key = case_key_for(who, case_id)  # first: another merchant's case is 404, never 403
        if not may(who.role, action):
            raise ApiProblem(403, f"{action} is not allowed for the role {who.role.value}")
        model = action_model(action, data, who.principal, who.role.value)
        # The case itself refuses a self-approval or one over the role's level (as 403).
        state = await svc.act(key, action, model)
        return await shown(svc.pool, who, state, f"POST /v1/cases/{{case_id}}/actions/{action}")

    act.__name__ = f"act_{action}"
    # The body's model and the role check are made per action at import, so their annotations
    # must be the objects themselves: the names would not resolve in this module's globals.
    act.__annotations__["data"] = body
    act.__annotations__["who"] = Annotated[Caller, Depends(requires(READERS, action))]
    router.add_api_route(
        f"/cases/{{case_id}}/actions/{action}",
        act,
        methods=["POST"],
        response_model=CaseState,
        summary=f"{action}: answers with the case's new state",
        description=(body.__doc__ or "").strip(),
    )


for _action in sorted(ACTION_MODELS):
    _add_action_route(_action)
