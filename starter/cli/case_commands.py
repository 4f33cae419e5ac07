"""`open`, `act`, `show`, `list` and `demo`: working cases through `CaseClient`."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from cases.actions.parsing import validation_message
from cases.actions.registry import ACTION_MODELS
from cases.models import CaseIntake
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import case_client, parse_json, print_json, read_source
from starter.demo import run_demo


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("open", help="open a case from a JSON file, or - for stdin")
    p.add_argument("source")
    p.add_argument("--act", metavar="ACTION", help="act at once, in the same request; prints the state")
    p.add_argument("--data", help="the action's JSON payload (with --act)")
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


async def cmd_open(args: argparse.Namespace, settings: Settings) -> None:
    data = parse_json(read_source(args.source), args.source)
    try:
        intake = CaseIntake.model_validate(data)
    except ValidationError as err:
        raise UserError(validation_message(err, "invalid case: ")) from err
    if args.data and not args.act:
        raise UserError("--data needs --act")
    action = _action_data(args.act, args.data) if args.act else None
    client = await case_client(settings)
    if action is None:
        print_json(await client.open(intake))
    else:
        print_json(await client.open_and_act(intake, *action))


async def cmd_act(args: argparse.Namespace, settings: Settings) -> None:
    action, data = _action_data(args.action, args.data)
    client = await case_client(settings)
    print_json(await client.act(args.case, action, data))


def _action_data(action: str, text: str | None) -> tuple[str, dict[str, Any]]:
    if action not in ACTION_MODELS:
        raise UserError(f"unknown action {action!r}; one of: {', '.join(ACTION_MODELS)}")
    data = parse_json(text, "--data") if text else {}
    if not isinstance(data, dict):
        raise UserError("--data: must be a JSON object")
    return action, data


async def cmd_show(args: argparse.Namespace, settings: Settings) -> None:
    client = await case_client(settings)
    print_json(await client.state(args.case))


async def cmd_list(args: argparse.Namespace, settings: Settings) -> None:
    client = await case_client(settings)
    print_json(await client.list(args.query, limit=args.limit))


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    client = await case_client(settings)
    print_json(await run_demo(client))
