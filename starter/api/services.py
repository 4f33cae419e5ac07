"""What every route is given: the Temporal client wrapper, the database pool, the key store and
the API's settings. Built once at start-up (`starter.api.app`) and handed to routes through
FastAPI's dependencies, so a test can build the app over any stack it likes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from starter.api.config import ApiSettings
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


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


# What a route declares to be given the services.
ServicesDep = Annotated[Services, Depends(services)]
