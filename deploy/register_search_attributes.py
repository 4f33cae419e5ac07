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

from temporalio.service import RPCError, RPCStatusCode

from runtime.connect import connect
from runtime.search_attribute_setup import AttributeConflict, NotSettled, register
from runtime.settings import Settings, SettingsError
from workflows.search_attributes import ALL

# A freshly started cluster answers health checks before its namespace exists or before every
# frontend has loaded it; these codes mean "not yet", not "never".
_RETRYABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.NOT_FOUND,
    RPCStatusCode.INTERNAL,
}


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
    try:
        settings = Settings.from_env()
    except SettingsError as err:
        print(f"register-search-attributes: {err}", file=sys.stderr)
        return 2
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
