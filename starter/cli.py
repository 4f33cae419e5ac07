"""`aftersales`: the command line for opening, acting on, inspecting and replaying cases.

Machine-readable output is JSON on stdout. A user error (bad JSON, a missing field, an unknown
case, an action the case refuses) prints one line on stderr and exits with status 2, never a
traceback; an unreachable service exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError

from cases.actions import ACTION_MODELS
from cases.models import CaseIntake
from cases.policy import PolicyError
from cases.action_input import validation_message
from starter.client import CaseClient, CaseError
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings
from runtime.connect import ConnectionSettingsError
from codec_server.command import add_codec_server_parser, run_codec_server
from reports.command import add_report_parser, run_report
from workflows.codec import CodecKeyError

USER_ERROR = 2
SERVICE_ERROR = 1


def _print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2)
    else:
        text = json.dumps(value, indent=2, default=_json_default, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


def parse_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{what}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}") from err


def read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise UserError(f"{source}: no such file") from err
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise UserError(f"{source}: cannot read ({err.__class__.__name__})") from err


async def _client(settings: Settings) -> CaseClient:
    from runtime.connect import connect

    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise ServiceError(
            f"cannot reach Temporal at {settings.temporal_address} ({err}); "
            "is `aftersales up` running, or TEMPORAL_ADDRESS set?"
        ) from err
    return CaseClient(client, settings.task_queue)


# -- commands ---------------------------------------------------------------------------------


async def cmd_open(args: argparse.Namespace, settings: Settings) -> None:
    data = parse_json(read_source(args.source), args.source)
    try:
        intake = CaseIntake.model_validate(data)
    except ValidationError as err:
        raise UserError(validation_message(err, "invalid case: ")) from err
    client = await _client(settings)
    _print_json(await client.open(intake))


async def cmd_act(args: argparse.Namespace, settings: Settings) -> None:
    if args.action not in ACTION_MODELS:
        raise UserError(f"unknown action {args.action!r}; one of: {', '.join(ACTION_MODELS)}")
    data = parse_json(args.data, "--data") if args.data else {}
    if not isinstance(data, dict):
        raise UserError("--data: must be a JSON object")
    client = await _client(settings)
    _print_json(await client.act(args.case, args.action, data))


async def cmd_show(args: argparse.Namespace, settings: Settings) -> None:
    client = await _client(settings)
    _print_json(await client.state(args.case))


async def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    client = await _client(settings)
    _print_json(await client.list(args.query, limit=args.limit))


async def cmd_replay(args: argparse.Namespace, settings: Settings) -> None:
    from starter.replay import replay_files, replay_from_server

    if args.files:
        try:
            from runtime.connect import converter_for

            results = await replay_files([Path(f) for f in args.files], converter_for(settings))
        except (OSError, ValueError) as err:
            raise UserError(str(err).splitlines()[0]) from err
    else:
        client = await _client(settings)
        results = await replay_from_server(client.client, args.workflow_id, args.query)
    if not results:
        raise UserError("replay: no workflow histories matched")
    failed = 0
    for result in results:
        line = f"{'ok  ' if result.ok else 'FAIL'} {result.workflow_id}"
        if result.error:
            line += f": {result.error}"
            failed += 1
        print(line)
    if failed:
        raise SystemExit(1)


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    from starter.demo import run_demo

    client = await _client(settings)
    _print_json(await run_demo(client))


async def cmd_migrate(args: argparse.Namespace, settings: Settings) -> None:
    from activities.schema import migrate

    if settings.database_url:
        applied = await migrate(settings.database_url)
    else:
        from devstack.postgres import EmbeddedPostgres

        settings.home.mkdir(parents=True, exist_ok=True)
        server = EmbeddedPostgres(settings.home / "pgdata")
        # `aftersales up` may already be running this server; leave it running then.
        already_running = server.is_running()
        try:
            applied = await migrate(server.start())
        finally:
            if not already_running:
                server.stop()
    _print_json({"applied": applied})


def cmd_worker(args: argparse.Namespace, settings: Settings) -> None:
    from worker import run_worker

    asyncio.run(run_worker(settings))


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from devstack.supervisor import run_up

    return run_up(settings)


# -- entry point ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR, f"aftersales: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aftersales", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("up", help="run the local stack (Temporal dev server + UI, PostgreSQL, worker)")
    sub.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS and DATABASE_URL")
    sub.add_parser("migrate", help="apply the database schema (harmless to repeat)")
    p = sub.add_parser("open", help="open a case from a JSON file, or - for stdin")
    p.add_argument("source")
    p = sub.add_parser("act", help="send an action to a case")
    p.add_argument("case")
    p.add_argument("action", help=", ".join(ACTION_MODELS))
    p.add_argument("--data", help="the action's JSON payload")
    p = sub.add_parser("show", help="print a case's full state as JSON")
    p.add_argument("case")
    p = sub.add_parser("list", help="list cases, optionally filtered by a visibility query")
    p.add_argument("--query", help="e.g. CaseTier = 'urgent' AND SlaState = 'breached'")
    p.add_argument("--limit", type=int, default=100)
    sub.add_parser("demo", help="open a varied set of live cases to explore in the UI")
    add_report_parser(sub)
    add_codec_server_parser(sub)
    p = sub.add_parser("replay", help="replay histories against this code")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--workflow-id")
    group.add_argument("--query")
    group.add_argument("files", nargs="*", default=[])
    return parser


ASYNC_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]] = {
    "open": cmd_open,
    "act": cmd_act,
    "show": cmd_show,
    "list": cmd_list,
    "replay": cmd_replay,
    "migrate": cmd_migrate,
    "demo": cmd_demo,
    "report": run_report,
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
    try:
        if args.command == "up":
            return cmd_up(args, settings)
        if args.command == "worker":
            cmd_worker(args, settings)
            return 0
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


if __name__ == "__main__":
    sys.exit(main())
