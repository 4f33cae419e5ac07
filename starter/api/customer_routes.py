"""The customer's side of the API (STANDARDS S13.3): a signed link for one case, the progress it
shows, and the customer's own four actions on that case and no other.

A link is issued by a backend or an agent (`POST /v1/cases/{id}/customer-link`) and handed to the
customer app. It authenticates `GET /v1/progress` and `POST /v1/progress/actions/{action}` only;
every staff route wants an API key and answers a link with 401. The answers are the customer's
view, never the internal state: no notes, no staff names, no escalation levels.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cases.authority import CUSTOMER_ACTIONS, LINK_ISSUERS
from cases.progress import CustomerProgress, customer_progress
from starter.api import customer_token
from starter.api.action_bodies import action_model, body_model
from starter.api.auth import Caller, bearer, requires, unauthorized
from starter.api.case_routes import CaseIdPath
from starter.api.errors import raise_for
from starter.api.events import case_events
from starter.api.problems import PROBLEM_RESPONSES
from starter.api.services import Services, services
from starter.api.signing import SigningKeys
from starter.client import CaseError

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)

Language = Annotated[Literal["en", "zh"], Query(description="The language of the headline and titles")]


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ttl_hours: Annotated[int | None, Field(ge=1, le=24 * 90)] = None


class CustomerLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str
    token: str
    expires_at: datetime


async def customer_case(request: Request) -> str:
    """The case the presented link is for, or 401."""
    presented = bearer(request)
    if presented is None or not presented.startswith(f"{customer_token.PREFIX}."):
        raise unauthorized("a customer link is required: Authorization: Bearer cst1.…")
    svc: Services = request.app.state.services
    now = datetime.now(UTC)
    try:
        return customer_token.verify(presented, svc.signing.secrets, now).case_id
    except customer_token.TokenError as err:
        if str(err) != "unknown key":
            raise unauthorized(f"the customer link is {err}") from None
    # Signed by a key another replica added since this one started: read the keys again.
    svc.signing = await SigningKeys.load(svc.pool)
    try:
        return customer_token.verify(presented, svc.signing.secrets, now).case_id
    except customer_token.TokenError as err:
        raise unauthorized(f"the customer link is {err}") from None


@router.post(
    "/cases/{case_id}/customer-link", response_model=CustomerLink, status_code=201,
    summary="A signed, expiring link for the customer app, good for this case only",
)
async def create_link(
    case_id: CaseIdPath,
    body: LinkRequest | None = None,
    who: Caller = Depends(requires(LINK_ISSUERS, "issuing a customer link")),  # noqa: B008
    svc: Services = Depends(services),  # noqa: B008
) -> CustomerLink:
    try:
        await svc.cases.state(case_id)  # an unknown case gets no link
    except CaseError as err:
        raise_for(err)
    hours = min((body.ttl_hours if body else None) or svc.api.customer_link_hours, svc.api.customer_link_hours)
    now = datetime.now(UTC)
    token = customer_token.issue(
        case_id, svc.signing.secrets[svc.signing.current], svc.signing.current, now, timedelta(hours=hours)
    )
    return CustomerLink(case_id=case_id, token=token, expires_at=customer_token.verify(
        token, svc.signing.secrets, now).expires_at)


async def _progress(svc: Services, case_id: str, language: str) -> CustomerProgress:
    try:
        state = await svc.cases.state(case_id)
    except CaseError as err:
        raise_for(err)
    return customer_progress(state, await case_events(svc.pool, case_id), datetime.now(UTC), language)


@router.get("/progress", response_model=CustomerProgress, summary="The case's progress, for its customer")
async def progress(
    lang: Language = "en",
    case_id: str = Depends(customer_case),
    svc: Services = Depends(services),  # noqa: B008
) -> CustomerProgress:
    return await _progress(svc, case_id, lang)


def _add_customer_action(action: str) -> None:
    body = body_model(action)

    async def act(
        data: body,  # type: ignore[valid-type]
        lang: Language = "en",
        case_id: str = Depends(customer_case),
        svc: Services = Depends(services),  # noqa: B008
    ) -> CustomerProgress:
        model = action_model(action, data, "customer", None)
        try:
            await svc.cases.act(case_id, action, model)
        except CaseError as err:
            raise_for(err)
        return await _progress(svc, case_id, lang)

    act.__name__ = f"customer_{action}"
    act.__annotations__["data"] = body  # made per action: the name would not resolve
    router.add_api_route(
        f"/progress/actions/{action}", act, methods=["POST"], response_model=CustomerProgress,
        summary=f"{action}, by the customer: answers with the progress after it",
    )


for _action in sorted(CUSTOMER_ACTIONS):
    _add_customer_action(_action)
