"""`deployments`: the builds of the worker deployment, and which one new cases start on.

`aftersales deployments` is the drain view: every build with its status, Temporal's drainage
verdict, its open workflows (counted in visibility by `TemporalWorkerDeploymentVersion`) and
whether a worker still polls it. An old build may stop once it holds no open workflow
(docs/DEPLOY.md). `aftersales deployments set-current [BUILD]` makes a build current, by default
this checkout's or image's own; `--allow-no-pollers` lets a setup job name it before any worker of
it has started.
"""

from __future__ import annotations

import argparse
from typing import Any

from temporalio.service import RPCError, RPCStatusCode

from runtime.deployment.build import DEPLOYMENT_NAME, build_id
from runtime.deployment.server import builds, current_build, set_current
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings
from starter.cli.common import case_client, print_json


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("deployments", help="the worker builds: open cases per build, and the current one")
    verbs = p.add_subparsers(dest="deployments_command")
    current = verbs.add_parser("set-current", help="make a build current: new cases start on it")
    current.add_argument("build", nargs="?", help="a build id (default: this code's build)")
    current.add_argument(
        "--allow-no-pollers", action="store_true", help="name the build before any worker of it has polled"
    )


async def cmd_deployments(args: argparse.Namespace, settings: Settings) -> None:
    client = (await case_client(settings)).client
    try:
        if args.deployments_command == "set-current":
            build = args.build or build_id(settings.build_id)
            previous = await set_current(client, build, allow_no_pollers=args.allow_no_pollers)
            print_json({"deployment": DEPLOYMENT_NAME, "current": build, "previous": previous})
            return
        print_json(
            {
                "deployment": DEPLOYMENT_NAME,
                "this_build": build_id(settings.build_id),
                "current": await current_build(client),
                "builds": [view.model_dump(mode="json") for view in await builds(client, settings.task_queue)],
            }
        )
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.INVALID_ARGUMENT):
            raise UserError(f"{err.message} (a build is known once one of its workers has polled)") from err
        raise ServiceError(f"Temporal answered {err.status.name}: {err.message}") from err
