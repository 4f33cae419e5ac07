"""Register the case search attributes on a Temporal namespace, for clusters the CLI did not start.

`aftersales up` registers them on its own dev server; a real cluster needs this once per namespace
before the first worker upserts them. The names and types come from
`workflows.search_attributes.ALL`, so an attribute added there reaches every cluster through the
next run of this script. Attributes already registered with the right type are left alone, so
running it on every deploy is harmless; one registered with another type is an error, because
fixing it would drop the visibility data held under it.

Connection settings are the application's own (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`). Prints
JSON on stdout; exits 2 on a type conflict and 1 when Temporal cannot be reached in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from runtime.connect import connect
from runtime.settings import Settings
from workflows.search_attributes import ALL

# A freshly started cluster answers health checks before its namespace exists or before every
# frontend has loaded it; these codes mean "not yet", not "never".
_RETRYABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.INTERNAL,
}


class AttributeConflict(Exception):
    """An attribute exists with a type other than the one the code needs."""


class NotSettled(Exception):
    """The namespace accepted the attributes but did not report them in time."""


def _type_name(value: int) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_")


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
    missing = _missing(await _registered(client, namespace))
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
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


async def run(settings: Settings, wait_s: float) -> list[str]:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            client = await connect(settings)
            return await register(client, settings.temporal_namespace)
        except RPCError as err:
            if err.status not in _RETRYABLE or time.monotonic() > deadline:
                raise
            last = f"{err.status.name}: {err.message}"
        except RuntimeError as err:
            # Client.connect reports an unreachable frontend as a RuntimeError.
            if time.monotonic() > deadline:
                raise
            last = str(err)
        print(f"register-search-attributes: waiting for Temporal ({last})", file=sys.stderr)
        await asyncio.sleep(2.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--wait", type=float, default=120.0, metavar="SECONDS",
        help="how long to keep retrying while Temporal or the namespace is not ready",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        added = asyncio.run(run(settings, args.wait))
    except AttributeConflict as err:
        print(f"register-search-attributes: {err}", file=sys.stderr)
        return 2
    except (RPCError, RuntimeError, NotSettled) as err:
        print(
            f"register-search-attributes: cannot register on {settings.temporal_address} "
            f"namespace {settings.temporal_namespace}: {err}",
            file=sys.stderr,
        )
        return 1
    present = [key.name for key in ALL if key.name not in added]
    print(json.dumps({"namespace": settings.temporal_namespace, "added": added, "present": present}))
    return 0


if __name__ == "__main__":
    rc = main()
    # Same reason as `aftersales`: Temporal's native client threads can abort the interpreter
    # during teardown of a short-lived process (temporalio/sdk-python#300).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
