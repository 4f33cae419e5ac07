"""`aftersales api`: the HTTP API on uvicorn, over Temporal and the application database.

With `--local-keys FILE` (what `aftersales up` passes) it first makes sure one key per role
exists for the local stack and writes them to FILE as shell variables, so a newcomer can
`source` it and follow the README's curl examples at once. The file is created readable by its
owner only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from runtime.settings import Settings


def add_parsers(sub: Any) -> None:
    api = sub.add_parser("api", help="run the HTTP API (AFTERSALES_API_BIND, default 127.0.0.1:8000)")
    api.add_argument("--local-keys", type=Path, help="make one key per role and write them to this file")


async def cmd_api(args: argparse.Namespace, settings: Settings) -> None:
    # Imported here: the API's web stack costs most of a second to import, and every other
    # command (the worker among them) starts without it.
    from starter.cli.api_serve import serve

    await serve(args, settings)
