"""The customer's side of the API (STANDARDS S13.3): a signed link for one case, the progress it
shows, and the customer's own four actions on that case and no other.

A link is issued by a backend or an agent (`POST /v1/cases/{id}/customer-link`) and handed to the
customer app. It authenticates `GET /v1/progress` and `POST /v1/progress/actions/{action}` only;
every staff route wants an API key and answers a link with 401. The answers are the customer's
view, never the internal state: no notes, no staff names, no escalation levels. Each case's link
counts against the same per-minute limit as a key (STANDARDS S13.5).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cases.actions.registry import CUSTOMER_ACTIONS
from cases.actions.roles import LINK_ISSUERS
from cases.views.progress import CustomerProgress, customer_progress
from starter.api import customer_token
from starter.api.action_bodies import action_model, body_model
from starter.api.auth import Caller, bearer, caller, count_request, requires, unauthorized
from starter.api.case_routes import CaseIdPath
from starter.api.events import case_events
from starter.api.problems import PROBLEM_RESPONSES, ApiProblem, FieldError
from starter.api.scope import case_key_for
from starter.api.services import Services, ServicesDep
from starter.api.signing import SigningKeys

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


# A token signed by a key this replica has not read yet makes it read the keys again, but not
# more often than this, so made-up key ids cannot turn every request into a query.
KEY_RELOAD_INTERVAL = 10.0


async def customer_case(request: Request) -> str:
    """The case the presented link is for, or 401; each link has the per-key rate limit."""
    presented = bearer(request)
    if presented is None or not presented.startswith(f"{customer_token.PREFIX}."):
        raise unauthorized("a customer link is required: Authorization: Bearer cst1.…")
    svc: Services = request.app.state.services
    now = datetime.now(UTC)
    try:
        claims = customer_token.verify(presented, svc.signing.secrets, now)
    except customer_token.TokenError as err:
        if str(err) != "unknown key" or not await _reload_keys(request, svc):
            raise unauthorized(f"the customer link is refused ({err})") from None
        try:
            claims = customer_token.verify(presented, svc.signing.secrets, now)
        except customer_token.TokenError as again:
            raise unauthorized(f"the customer link is refused ({again})") from None
    await count_request(svc, f"link:{claims.case_id}", "this case's link")
    return claims.case_id


async def _reload_keys(request: Request, svc: Services) -> bool:
    """Read the signing keys again (another replica may have rotated them); False if done lately."""
    last: float = getattr(request.app.state, "signing_keys_read_at", float("-inf"))
    if time.monotonic() - last < KEY_RELOAD_INTERVAL:
        return False
    request.app.state.signing_keys_read_at = time.monotonic()
    svc.signing = await SigningKeys.load(svc.pool)
    return True


@router.post(
    "/cases/{case_id}/customer-link", response_model=CustomerLink, status_code=201,
    summary="A signed, expiring link for the customer app, good for this case only",
)
async def create_link(
    who: Annotated[Caller, Depends(caller)],
    svc: ServicesDep,
    case_id: CaseIdPath,
    body: LinkRequest | None = None,
) -> CustomerLink:
    case_id = case_key_for(who, case_id)  # first: another merchant's case is 404, never 403
    await requires(LINK_ISSUERS, "issuing a customer link")(who)
    await svc.cases.state(case_id)  # an unknown case gets no link
    longest = svc.api.customer_link_hours
    hours = (body.ttl_hours if body else None) or longest
    if hours > longest:
        raise ApiProblem(422, f"ttl_hours: at most {longest}", errors=[
            FieldError(field="ttl_hours", message=f"a customer link lasts at most {longest} hours here"),
        ])
    now = datetime.now(UTC)
    token = customer_token.issue(
        case_id, svc.signing.secrets[svc.signing.current], svc.signing.current, now, timedelta(hours=hours)
    )
    claims = customer_token.verify(token, svc.signing.secrets, now)
    return CustomerLink(case_id=case_id, token=token, expires_at=claims.expires_at)


async def _progress(svc: Services, case_id: str, language: str) -> CustomerProgress:
    state = await svc.cases.state(case_id)
    return customer_progress(state, await case_events(svc.pool, case_id), datetime.now(UTC), language)


@router.get("/progress", response_model=CustomerProgress, summary="The case's progress, for its customer")
async def progress(
    case_id: Annotated[str, Depends(customer_case)],
    svc: ServicesDep,
    lang: Language = "en",
) -> CustomerProgress:
    return await _progress(svc, case_id, lang)


def _add_customer_action(action: str) -> None:
    body = body_model(action)

    async def act(
        case_id: Annotated[str, Depends(customer_case)],
        svc: ServicesDep,
        data: body,  # type: ignore[valid-type]
        lang: Language = "en",
    ) -> CustomerProgress:
        model = action_model(action, data, "customer", None)
        state = await svc.act(case_id, action, model)
        return customer_progress(state, await case_events(svc.pool, case_id), datetime.now(UTC), lang)

    act.__name__ = f"customer_{action}"
    act.__annotations__["data"] = body  # made per action: the name would not resolve
    router.add_api_route(
        f"/progress/actions/{action}", act, methods=["POST"], response_model=CustomerProgress,
        summary=f"{action}, by the customer: answers with the progress after it",
    )


for _action in sorted(CUSTOMER_ACTIONS):
    _add_customer_action(_action)
