"""The search attributes that make cases filterable in the Temporal UI, and their registration.

This is the single source: the workflow upserts them from here, `register` adds them to a
namespace (the compose stack's setup job, the test servers), and the dev-stack launcher passes
`cli_flags()` to `temporal server start-dev`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from cases.models import CaseState

CASE_TIER = SearchAttributeKey.for_keyword("CaseTier")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
# The customer's return parcel, so the warehouse can find the case a parcel belongs to.
RETURN_TRACKING = SearchAttributeKey.for_keyword("ReturnTracking")
# Who holds the case and which team's queue it is in (unset handler with a team: waiting).
CASE_HANDLER = SearchAttributeKey.for_keyword("CaseHandler")
CASE_TEAM = SearchAttributeKey.for_keyword("CaseTeam")

ALL = (
    CASE_TIER,
    CASE_STATUS,
    CASE_CATEGORY,
    CUSTOMER_TIER,
    ESCALATION_LEVEL,
    SLA_STATE,
    SLA_DUE_AT,
    ORDER_ID,
    RETURN_TRACKING,
    CASE_HANDLER,
    CASE_TEAM,
)
# Attributes added after cases were already running: absent and unset mean the same, so a case
# that never has a value never upserts one (an older history replays unchanged).
LATER = frozenset({RETURN_TRACKING.name, CASE_HANDLER.name, CASE_TEAM.name})


def next_due(state: CaseState) -> datetime | None:
    """The `SlaDueAt` value: the earliest due time of the case's clocks."""
    return state.due_at


_START_SKEW = timedelta(minutes=1)


def same_value(key: SearchAttributeKey[Any], published: Any, value: Any) -> bool:
    """Whether `value` needs no upsert over `published`, a value the client gave at start.

    A due time given at start was worked out on the client a moment before the workflow opened
    the case; within a minute it is the same due time, and the first change after the first
    task publishes the exact one.
    """
    if key.name == SLA_DUE_AT.name and isinstance(published, datetime) and isinstance(value, datetime):
        return abs(published - value) <= _START_SKEW
    return bool(published == value)


# Names the `temporal` CLI uses for each indexed value type.
_CLI_TYPE = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime"}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags


class AttributeConflict(Exception):
    """An attribute exists with a type other than the one the code needs."""


class NotSettled(Exception):
    """The namespace accepted the attributes but did not report them in time."""


def _type_name(value: int) -> str:
    return IndexedValueType.Name(IndexedValueType.ValueType(value)).removeprefix("INDEXED_VALUE_TYPE_")


async def _registered(client: Client, namespace: str) -> dict[str, int]:
    resp = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(resp.custom_attributes)


def _missing(existing: dict[str, int]) -> dict[str, int]:
    missing: dict[str, int] = {}
    for key in ALL:
        want = int(key.indexed_value_type)
        have = existing.get(key.name)
        if have is None:
            missing[key.name] = want
        elif have != want:
            raise AttributeConflict(
                f"search attribute {key.name} is registered as {_type_name(have)} "
                f"but the code needs {_type_name(want)}"
            )
    return missing


async def register(client: Client, namespace: str, *, settle_s: float = 30.0) -> list[str]:
    """Add every attribute of `ALL` missing from `namespace`; return the names added."""
    try:
        registered = await _registered(client, namespace)
    except RPCError as err:
        # The time-skipping test server cannot list attributes; add them all and trust it.
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={k.name: IndexedValueType.ValueType(int(k.indexed_value_type)) for k in ALL},
            )
        )
        return sorted(k.name for k in ALL)
    missing = _missing(registered)
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={n: IndexedValueType.ValueType(t) for n, t in missing.items()},
                )
            )
        except RPCError as err:
            # Another setup run (a second replica, a re-run) got there first; the check below
            # still verifies the types.
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
        # Workers start as soon as this job exits; wait until the namespace reports every
        # attribute so their first upsert does not race the registration.
        deadline = time.monotonic() + settle_s
        while _missing(await _registered(client, namespace)):
            if time.monotonic() > deadline:
                raise NotSettled(f"still missing after {settle_s:.0f} s: {sorted(missing)}")
            await asyncio.sleep(0.5)
    return sorted(missing)
