"""The FastAPI application: its routes, its error answers, and the services it is given.

`create_app` takes a factory of `Services` so the same app runs under `aftersales api` (which
connects to Temporal and PostgreSQL from the environment) and in tests over any stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from starter.api import batch_routes, case_routes, customer_routes, merchant_routes, problems
from starter.api.body_limit import BodyLimit
from starter.api.errors import case_problem
from starter.api.media_type import JsonBodies
from starter.api.services import Services
from starter.client import CaseError

# The largest intake or action is a few 4,000-character texts; a batch is a recall's worth.
MAX_BODY = 256 * 1024
MAX_BATCH_BODY = 16 * 1024 * 1024

ServicesFactory = Callable[[], Awaitable[tuple[Services, Callable[[], Awaitable[None]]]]]


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str


def create_app(build: ServicesFactory) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services, close = await build()
        app.state.services = services
        try:
            yield
        finally:
            await close()

    app = FastAPI(
        title="aftersales",
        version="1",
        summary="After-sales cases as durable workflows: open, act, follow, and be told.",
        lifespan=lifespan,
        responses=problems.PROBLEM_RESPONSES,
    )
    problems.install(app)
    app.add_exception_handler(CaseError, case_problem)
    app.add_middleware(JsonBodies, exempt_suffixes=(":batch",))
    app.add_middleware(BodyLimit, default=MAX_BODY, per_path_suffix={":batch": MAX_BATCH_BODY})
    app.include_router(batch_routes.router)
    app.include_router(case_routes.router)
    app.include_router(customer_routes.router)
    app.include_router(merchant_routes.router)

    @app.get("/healthz", response_model=Health, summary="Liveness", tags=["service"])
    async def healthz() -> Health:
        return Health(status="ok")

    return app
