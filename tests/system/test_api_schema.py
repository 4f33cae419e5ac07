"""The OpenAPI document, checked against the live service by schemathesis.

Every operation gets a fixed budget of generated requests (valid and invalid, from the document's
own schemas) with a fixed seed, so CI runs the same requests every time. No answer may be a 5xx,
and every answer must be one the document declares, with the declared content type and a body
that matches its schema.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_helpers import LiveApi, live_api

pytestmark = pytest.mark.devserver

EXAMPLES_PER_OPERATION = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schemathesis.serializer("application/x-ndjson", "application/jsonl", "application/json-lines")
def _json_lines(ctx: Any, value: Any) -> bytes:
    # The batch's body is documented as a string of lines; anything else goes as one JSON line.
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture(scope="module")
async def api(dev_server, postgres_dsn, pool, policy, tmp_path_factory) -> Any:  # type: ignore[no-untyped-def]
    # A roomy limit: this module sends hundreds of requests a minute on one key.
    async with live_api(
        dev_server, postgres_dsn, pool, policy, tmp_path_factory.mktemp("schema"),
        AFTERSALES_API_RATE_PER_MINUTE="100000",
    ) as live:
        yield live


def check_operation(strategy: Any, base_url: str, headers: dict[str, str], negative: bool = False) -> int:
    calls = 0

    @seed(20261203)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=60)

    try:
        run()
    except Unsatisfiable:
        if not negative:
            raise
        # Nothing about this operation can be made invalid (no parameters, no body).
    return calls


async def test_every_operation_answers_within_its_documented_schema(api: LiveApi) -> None:
    key = await api.key("supervisor")
    async with httpx.AsyncClient(base_url=api.url) as http:
        document = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 25  # every action, the case routes, the batch and the customer's view
    headers = {"Authorization": f"Bearer {key}"}
    # Actions on a case that exists reach the workflow's own validation, not only a 404.
    async with api.client(key) as http:
        opened = await http.post("/v1/cases", json=_intake())
        assert opened.status_code == 201, opened.text
    live = {"case_id": opened.json()["case_id"]}
    calls = 0
    for operation in operations:
        strategies = [(operation.as_strategy(), False), (operation.as_strategy(GenerationMode.NEGATIVE), True)]
        if "{case_id}" in operation.path:
            strategies.append((operation.as_strategy(path_parameters=live), False))
        for strategy, negative in strategies:
            calls += await asyncio.to_thread(check_operation, strategy, api.url, headers, negative)
    assert calls >= len(operations) * 6


def _intake() -> dict[str, Any]:
    return {
        "order_id": "SCHEMA-1",
        "customer": {"id": "cust-schema"},
        "channel": "web",
        "category": "product_quality",
        "description": "The lid does not close.",
        "order_amount": "120.00",
    }
