"""`replay`: run recorded histories (files, or fetched from Temporal) against this code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.connect import converter_for
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.common import case_client
from starter.replay import replay_files, replay_from_server


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay histories against this code")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--workflow-id")
    group.add_argument("--query")
    group.add_argument("files", nargs="*", default=[])


async def cmd_replay(args: argparse.Namespace, settings: Settings) -> None:
    if args.files:
        try:
            results = await replay_files([Path(f) for f in args.files], converter_for(settings))
        except (OSError, ValueError) as err:
            raise UserError(str(err).splitlines()[0]) from err
    else:
        client = await case_client(settings)
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
