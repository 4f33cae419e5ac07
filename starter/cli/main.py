"""`aftersales`: the command line for opening, acting on, inspecting and replaying cases.

Machine-readable output is JSON on stdout. A user error (bad JSON, a missing field, an unknown
case, an action the case refuses) prints one line on stderr and exits with status 2, never a
traceback; an unreachable service exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from pydantic import ValidationError

from cases.actions.parsing import validation_message
from cases.policy.snapshot import PolicyError
from codec_server.command import add_codec_server_parser, run_codec_server
from outbox.command import add_dispatch_parser, run_dispatch
from reports.service.command import add_report_parser, run_report
from reports.whatif.command import add_whatif_parser, run_whatif
from runtime.connect import ConnectionSettingsError
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings, SettingsError
from starter.cli import (
    amend_command,
    api_command,
    calendar_command,
    case_commands,
    deployment_commands,
    key_commands,
    merchant_commands,
    replay_command,
    roster_commands,
    stack_commands,
    webhook_commands,
)
from starter.cli.common import SERVICE_ERROR, USER_ERROR
from starter.client import CaseError
from workflows.codec import CodecKeyError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"aftersales: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aftersales", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    stack_commands.add_parsers(sub)
    case_commands.add_parsers(sub)
    amend_command.add_parsers(sub)
    calendar_command.add_parsers(sub)
    add_report_parser(sub)
    add_whatif_parser(sub)
    add_codec_server_parser(sub)
    add_dispatch_parser(sub)
    replay_command.add_parsers(sub)
    deployment_commands.add_parsers(sub)
    roster_commands.add_parsers(sub)
    api_command.add_parsers(sub)
    key_commands.add_parsers(sub)
    merchant_commands.add_parsers(sub)
    webhook_commands.add_parsers(sub)
    return parser


ASYNC_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]] = {
    "open": case_commands.cmd_open,
    "act": case_commands.cmd_act,
    "show": case_commands.cmd_show,
    "list": case_commands.cmd_list,
    "demo": case_commands.cmd_demo,
    "amend": amend_command.cmd_amend,
    "calendar": calendar_command.cmd_calendar,
    "replay": replay_command.cmd_replay,
    "deployments": deployment_commands.cmd_deployments,
    "migrate": stack_commands.cmd_migrate,
    "report": run_report,
    "whatif": run_whatif,
    "dispatch": run_dispatch,
    "roster": roster_commands.cmd_roster,
    "api": api_command.cmd_api,
    "keys": key_commands.cmd_keys,
    "merchants": merchant_commands.cmd_merchants,
    "webhooks": webhook_commands.cmd_webhooks,
}


def main(argv: list[str] | None = None) -> int:
    try:
        rc = _main(argv)
    except SystemExit as stop:
        rc = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    # Temporal's native client threads can abort the interpreter during shutdown of a
    # short-lived process (temporalio/sdk-python#300). The work is done and flushed, so skip
    # interpreter teardown rather than risk a crash after a successful command.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValidationError as err:
        print(f"aftersales: {validation_message(err, 'environment: ')}", file=sys.stderr)
        return USER_ERROR
    except SettingsError as err:
        print(f"aftersales: {err}", file=sys.stderr)
        return USER_ERROR
    try:
        if args.command == "up":
            return stack_commands.cmd_up(args, settings)
        if args.command == "worker":
            return stack_commands.cmd_worker(args, settings)
        if args.command == "codec-server":
            return run_codec_server(args, settings)
        asyncio.run(ASYNC_COMMANDS[args.command](args, settings))
        return 0
    except (UserError, CaseError, PolicyError, CodecKeyError, ConnectionSettingsError) as err:
        print(f"aftersales {args.command}: {err}", file=sys.stderr)
        return USER_ERROR
    except ServiceError as err:
        print(f"aftersales {args.command}: {err}", file=sys.stderr)
        return SERVICE_ERROR
    except KeyboardInterrupt:
        return 130

