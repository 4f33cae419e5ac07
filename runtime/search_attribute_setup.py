"""Registering the case search attributes (`workflows/search_attributes.py`) in a namespace: the
compose stack's setup job and the test servers. Client code, kept out of what workflows import.
"""

from __future__ import annotations

import asyncio
import time

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows.search_attributes import ALL


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
