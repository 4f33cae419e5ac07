"""What every route is given: the Temporal client wrapper, the database pool, the key store and
the API's settings. Built once at start-up (`starter.api.app`) and handed to routes through
FastAPI's dependencies, so a test can build the app over any stack it likes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from pydantic import ValidationError

from cases.models import Action, CaseState
from cases.policy.snapshot import Policy
from starter.api.config import ApiSettings
from starter.api.events import recorded_state
from starter.api.keys import KeyStore
from starter.api.pacing import MerchantPaces
from starter.api.problems import ApiProblem
from starter.api.signing import SigningKeys
from starter.client import CaseClient, CaseError


@dataclass
class Services:
    cases: CaseClient
    pool: asyncpg.Pool
    api: ApiSettings
    signing: SigningKeys
    # The platform's policy: the floor a merchant's own policy is checked against.
    policy: Policy
    # Batch starts, paced per merchant at the API's batch rate.
    batch_paces: MerchantPaces = field(init=False)

    def __post_init__(self) -> None:
        self.batch_paces = MerchantPaces(self.api.batch_cases_per_second)

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.pool)

    async def act(self, case_id: str, action: str, data: Action) -> CaseState:
        """Take the action and answer with the state it left, read from the record the action's
        update committed before it answered.

        The `state` query answers instead when the record is already further on (another action
        on the same case recorded in between) or cannot be read. Once the action is applied, no
        failure to read may look like one worth sending the action again for.
        """
        receipt = await self.cases.act(case_id, action, data)
        try:
            recorded = await recorded_state(self.pool, receipt)
        except (asyncpg.PostgresError, OSError, TimeoutError, ValidationError):
            recorded = None
        if recorded is not None:
            return recorded
        try:
            return await self.cases.state(case_id)
        except CaseError as err:
            raise ApiProblem(
                503,
                f"{action} was applied (last_seq {receipt.last_seq}, status {receipt.status.value}), "
                f"but the case could not be read back ({err}); read it with GET, do not send {action} again",
            ) from err


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


# What a route declares to be given the services.
ServicesDep = Annotated[Services, Depends(services)]
