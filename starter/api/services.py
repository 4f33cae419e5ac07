"""What every route is given: the Temporal client wrapper, the database pool, the key store and
the API's settings. Built once at start-up (`starter.api.app`) and handed to routes through
FastAPI's dependencies, so a test can build the app over any stack it likes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from cases.models import Action, CaseState
from starter.api.config import ApiSettings
from starter.api.events import recorded_state
from starter.api.keys import KeyStore
from starter.api.signing import SigningKeys
from starter.client import CaseClient


@dataclass
class Services:
    cases: CaseClient
    pool: asyncpg.Pool
    api: ApiSettings
    signing: SigningKeys

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.pool)

    async def act(self, case_id: str, action: str, data: Action) -> CaseState:
        """Take the action and answer with the state it left, read from the record the action's
        update committed before it answered. The `state` query is the fallback for a record that
        does not hold it, which only a store shared wrongly between deployments would show."""
        receipt = await self.cases.act(case_id, action, data)
        return await recorded_state(self.pool, receipt) or await self.cases.state(case_id)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


# What a route declares to be given the services.
ServicesDep = Annotated[Services, Depends(services)]
