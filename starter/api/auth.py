"""Who is calling: the API key in `Authorization: Bearer …`, its role, and its rate limit.

The principal of the key is the actor the case records; nothing in a request body can name
another. A missing or unknown key is 401, a role the route does not allow is 403, and a key over
its limit, or a merchant over its own, is 429 with Retry-After.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from cases.actions.roles import Role
from starter.api.keys import ApiKey, KeyStore
from starter.api.problems import ApiProblem
from starter.api.services import Services

# Counts a request of one key (or one customer link) in the current minute and answers the count
# and the seconds left.
_HIT = """
WITH hit AS (
    INSERT INTO api_rate_windows (key_id, window_start, requests)
    VALUES ($1, date_trunc('minute', now()), 1)
    ON CONFLICT (key_id, window_start) DO UPDATE SET requests = api_rate_windows.requests + 1
    RETURNING requests
)
SELECT requests, 60 - extract(second FROM now())::int AS retry_after FROM hit
"""
_PRUNE = "DELETE FROM api_rate_windows WHERE key_id = $1 AND window_start < date_trunc('minute', now())"


@dataclass(frozen=True)
class Caller:
    key: ApiKey

    @property
    def principal(self) -> str:
        return self.key.principal

    @property
    def role(self) -> Role:
        return self.key.role

    @property
    def merchant_id(self) -> str | None:
        """The merchant the key belongs to; None for a platform key."""
        return self.key.merchant_id


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="aftersales"'})


async def caller(request: Request) -> Caller:
    presented = bearer(request)
    if presented is None:
        raise unauthorized("an API key is required: Authorization: Bearer ak_…")
    services: Services = request.app.state.services
    keys: KeyStore = services.keys
    key = await keys.authenticate(presented)
    if key is None:
        raise unauthorized("the API key is unknown or revoked")
    await count_request(services, key.id, "this key")
    if key.merchant_id is not None:
        # All of a merchant's keys share one budget, so one merchant cannot crowd out the rest.
        await count_request(
            services, f"merchant:{key.merchant_id}", f"merchant {key.merchant_id}",
            services.api.merchant_requests_per_minute,
        )
    return Caller(key)


async def count_request(services: Services, counted_as: str, who: str, limit: int | None = None) -> None:
    """Count one request against `counted_as`'s per-minute limit (a key's, unless `limit` says
    otherwise); 429 once it is over."""
    limit = limit or services.api.requests_per_minute
    row = await services.pool.fetchrow(_HIT, counted_as)
    if row["requests"] == 1:
        await services.pool.execute(_PRUNE, counted_as)
    if row["requests"] > limit:
        raise ApiProblem(
            429, f"{who} is over its limit of {limit} requests a minute",
            headers={"Retry-After": str(max(1, row["retry_after"]))},
        )


def requires(roles: frozenset[Role], what: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets through only callers whose role is in `roles`."""

    async def dependency(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if who.role not in roles:
            allowed = ", ".join(sorted(r.value for r in roles))
            raise ApiProblem(403, f"{what} needs the role {allowed}; this key is {who.role.value}")
        return who

    return dependency
