"""The case workflow's `amend` update: a policy amendment for a running case.

The amendment is the update's input, so it is in the case's history, and what it does is the
pure `cases.policy.amendment`: a replay recomputes the same clocks. Like an action, the payload is read
from its raw bytes so a malformed one is refused by the validator with the field named, and the
answer comes only once the `amended` event is in the record. The main loop re-arms its timer
when a clock now falls due earlier; a clock that moved later is never fired early, since
`fire_due` fires only what the clocks' own due instants say is due.
"""

from typing import Any, Protocol

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from cases.core.machine import CaseMachine, InvalidAction
    from cases.policy.amendment import AmendmentAnswer, AmendmentInputError, PolicyAmendment, parse_amendment
    from workflows.action_updates import payload_bytes

AMEND = "amend"


class _Case(Protocol):
    """What the update needs of the workflow instance."""

    _machine: CaseMachine | None
    _changed: bool
    _recorded_seq: int


def _decode(raw: RawValue) -> PolicyAmendment:
    try:
        return parse_amendment(payload_bytes(raw))
    except AmendmentInputError as err:
        raise ApplicationError(str(err), type="InvalidAction", non_retryable=True) from None


def validate(case: _Case, raw: RawValue) -> None:
    amendment = _decode(raw)
    # Before the policy is captured there is nothing to amend yet; the handler checks again.
    if case._machine is not None:
        try:
            case._machine.check_amendment(amendment, workflow.now())
        except InvalidAction as err:
            raise ApplicationError(str(err), type="InvalidAction", non_retryable=True) from err


async def apply(case: _Case, raw: RawValue) -> AmendmentAnswer:
    amendment = _decode(raw)
    await workflow.wait_condition(lambda: case._machine is not None)
    machine = case._machine
    assert machine is not None
    try:
        answer = machine.amend(amendment, workflow.now())
    except InvalidAction as err:
        raise ApplicationError(str(err), type="InvalidAction", non_retryable=True) from err
    finally:
        # What fell due before the amendment may have moved the case even when it is refused.
        case._changed = case._changed or bool(machine.events)
    if machine.events:
        seq = machine.state.last_seq
        # Answer only once the change is in the record, as every action does.
        await workflow.wait_condition(lambda: case._recorded_seq >= seq)
    return answer


def amend_update() -> Any:
    """The `amend` update method, with its validator, for the case workflow class."""

    # `self` stays unannotated: the SDK drops only an unannotated first `self` from the
    # argument types it decodes with.
    async def handler(self, data: RawValue) -> AmendmentAnswer:  # type: ignore[no-untyped-def]
        return await apply(self, data)

    def validator(self, data: RawValue) -> None:  # type: ignore[no-untyped-def]
        validate(self, data)

    handler.__name__ = handler.__qualname__ = AMEND
    update = workflow.update(name=AMEND)(handler)
    update.validator(validator)
    return update
