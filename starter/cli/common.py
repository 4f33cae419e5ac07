"""What every `aftersales` command shares: exit codes, JSON in and out, and the Temporal client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runtime.connect import connect
from runtime.errors import ServiceError, UserError
from runtime.settings import Settings
from starter.client import CaseClient

USER_ERROR = 2
SERVICE_ERROR = 1


def print_json(value: Any) -> None:
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


async def case_client(settings: Settings) -> CaseClient:
    try:
        client = await connect(settings)
    except RuntimeError as err:
        raise ServiceError(
            f"cannot reach Temporal at {settings.temporal_address} ({err}); "
            "is `aftersales up` running, or TEMPORAL_ADDRESS set?"
        ) from err
    return CaseClient(client, settings.task_queue)
