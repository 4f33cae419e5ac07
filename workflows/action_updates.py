"""The update methods of the case workflow: one per action of the registry (`cases/actions/registry.py`)."""

from collections.abc import Iterable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from cases.receipt import CaseReceipt


def payload_bytes(raw: RawValue) -> bytes | None:
    """The JSON bytes an update was sent, or None for a null; never decoded by the SDK.

    Any SDK can send a null, a bare value or megabytes where an object belongs; the caller's
    parser refuses it with the field named, where decoding it here would fail the workflow task
    on every retry.
    """
    payload = raw.payload if isinstance(raw, RawValue) else None
    if payload is None or payload.metadata.get("encoding") == b"binary/null":
        return None
    return payload.data


def action_update(name: str) -> Any:
    """The named update method of one action of the registry (`cases/actions/registry.py`), validated.

    Both the handler and its validator take the raw payload, so a payload of any shape or size
    is refused by `cases.actions.parsing` with the field named, before the SDK tries to decode it.
    """

    # `self` stays unannotated: the SDK drops only an unannotated first `self` from the
    # argument types it decodes with.
    async def handler(self, data: RawValue) -> CaseReceipt:  # type: ignore[no-untyped-def]
        return await self._act(name, data)  # type: ignore[no-any-return]

    def validator(self, data: RawValue) -> None:  # type: ignore[no-untyped-def]
        self._validate(name, data)

    handler.__name__ = handler.__qualname__ = name
    update = workflow.update(name=name)(handler)
    update.validator(validator)
    return update


C = TypeVar("C", bound=type)


def with_action_updates(names: Iterable[str]) -> Any:
    """A class decorator that gives the workflow one named update per action, before
    `workflow.defn` reads the class: a new row in the registry is a new update, with no line here."""

    def decorate(cls: C) -> C:
        for name in names:
            if hasattr(cls, name):
                raise TypeError(f"{cls.__name__}.{name} already exists; an action needs its own name")
            setattr(cls, name, action_update(name))
        return cls

    return decorate
