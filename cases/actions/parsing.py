"""An action's raw JSON turned into its model, or refused with one line that names the field.

Any client, in any language, can send an update past our own client's checks, so the workflow
reads each action from its raw bytes. A payload larger than any valid action is refused before
it is parsed into a model: every text field of an action is capped, so nothing a case accepts
comes near `MAX_ACTION_BYTES`, and nothing above it is worth decoding. The refusal names the
field that made it large, so the sender knows what to shorten.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from cases.actions.registry import ACTION_MODELS
from cases.models import Action

# The largest valid action is a few text fields of at most 4,000 characters each. Even with every
# character sent as a JSON surrogate-pair escape (12 bytes), that is under 150 KiB.
MAX_ACTION_BYTES = 256 * 1024


class ActionInputError(ValueError):
    """The payload is not a valid action; the message is one line naming the field."""


def validation_message(err: ValidationError, prefix: str = "") -> str:
    """One line naming the first failing field, e.g. `customer.email: value is not a valid ...`."""
    first = err.errors()[0]
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    msg = first["msg"].removeprefix("Value error, ")
    if not first["loc"] and ": " in msg:
        return f"{prefix}{msg}{more}"  # a rule across fields names its field in the message
    where = ".".join(str(p) for p in first["loc"]) or "input"
    return f"{prefix}{where}: {first['msg']}{more}"


def parse_action(action: str, data: bytes | None) -> Action:
    """The action's model, read from its JSON bytes (None for a `null` argument)."""
    model = ACTION_MODELS[action]
    if data is None:
        raise ActionInputError(f"{action}: the payload must be a JSON object ({model.__name__})")
    if len(data) > MAX_ACTION_BYTES:
        raise ActionInputError(_oversized(action, data))
    try:
        return model.model_validate_json(data)
    except ValidationError as err:
        if any(e["type"] == "model_type" for e in err.errors() if not e["loc"]):
            raise ActionInputError(
                f"{action}: the payload must be a JSON object ({model.__name__})"
            ) from None
        raise ActionInputError(validation_message(err, f"{action}.")) from None


def _oversized(action: str, data: bytes) -> str:
    limit = f"{len(data):,} bytes, over the {MAX_ACTION_BYTES:,} a case accepts"
    field = _largest_field(data)
    if field is None:
        return f"{action}: the payload is {limit}"
    name, size = field
    return f"{action}.{name}: the payload is {limit}; this field alone is {size:,} bytes"


def _largest_field(data: bytes) -> tuple[str, int] | None:
    try:
        value: Any = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or not value:
        return None
    sizes = {str(k): _size(v) for k, v in value.items()}
    name = max(sizes, key=lambda k: sizes[k])
    return name, sizes[name]


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    try:
        return len(json.dumps(value))
    except (ValueError, RecursionError):
        return 0
