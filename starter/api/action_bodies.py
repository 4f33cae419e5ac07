"""The body of each action over HTTP: the workflow's own model of it, less what the key sets.

`actor` (and an approver's `role`) come from the API key, so the body has no such fields and a
body that sends one is refused naming it. Everything else (types, bounds, enums, descriptions)
is the workflow's model field for field, so the OpenAPI document shows exactly what the case
accepts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from cases.actions.parsing import validation_message
from cases.actions.registry import ACTION_MODELS
from cases.models import Action
from starter.api.problems import ApiProblem, field_errors

SET_BY_KEY = frozenset({"actor", "role"})


@cache
def body_model(action: str) -> type[BaseModel]:
    model = ACTION_MODELS[action]
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name not in SET_BY_KEY
    }
    return create_model(
        f"{model.__name__}Body",
        __config__=ConfigDict(extra="forbid", title=f"{model.__name__}Body"),
        __doc__=model.__doc__ or f"The body of {action}.",
        **fields,
    )


def action_model(action: str, body: BaseModel, actor: str, role: str | None) -> Action:
    """The workflow's model of the action, as the key's principal (and role) sends it.

    The body has the model's fields but not its rules across fields (a failed inspection must say
    why), so those are checked here, and refused as the body's fault.
    """
    model = ACTION_MODELS[action]
    values = body.model_dump() | {"actor": actor}
    if "role" in model.model_fields and role is not None:
        values["role"] = role
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ApiProblem(422, validation_message(err), errors=field_errors(list(err.errors()))) from None
