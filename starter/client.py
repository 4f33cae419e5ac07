"""CaseClient: the Python API backend systems use to open cases, act on them and read them.

Every input is validated with the same pydantic models the workflow uses before anything is
sent, so a bad payload fails here with an error naming the field, and no workflow is started.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cases.actions.parsing import validation_message
from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine, InvalidAction
from cases.ids import WORKFLOW_TYPE, case_id_from, cases_query, workflow_id_for
from cases.models import Action, CaseIntake, CaseState, Status, Tier
from cases.policy.amendment import AmendmentAnswer, PolicyAmendment
from cases.policy.intake import priority_key
from cases.policy.snapshot import Policy, load_policy
from cases.receipt import CaseReceipt
from runtime.settings import Settings
from starter.start_input import start_input, start_options
from workflows import search_attributes as sa
from workflows.amendments import AMEND
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseRun

# An amendment is answered once recorded, in well under a second; a case silent this long has no
# worker polling for it, and the caller moves on to the next case.
AMEND_RPC_TIMEOUT = timedelta(seconds=30)


class CaseError(Exception):
    """A user error: bad input, unknown case, or an action the case refuses.

    `kind` says which, for callers that answer in status codes (the HTTP API): `invalid` input,
    `not_found`, `refused` by the case as it stands, `forbidden` to this actor (a self-approval),
    or `unavailable` (Temporal answered with an error of its own).
    """

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


class OpenResult(BaseModel):
    """What opening a case answers: the case it opened, or found already open."""

    case_id: str
    workflow_id: str
    run_id: str | None = None
    tier: Tier
    status: Status
    created: bool


class CaseSummary(BaseModel):
    case_id: str
    workflow_id: str
    merchant_id: str | None = None
    status: str | None
    tier: str | None
    category: str | None
    escalation_level: int | None
    sla_state: str | None
    sla_due_at: datetime | None
    order_id: str | None
    handler: str | None = None
    team: str | None = None
    execution_status: str


class CaseClient:
    def __init__(
        self, client: Client, task_queue: str = "aftersales", policy: Policy | None = None, *, fair: bool = True
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self._policy = policy
        # Off only to measure what fairness buys (bench/fairness.py).
        self._fair = fair

    def _opening(self, intake: CaseIntake, action: str | None = None, data: Action | None = None) -> CaseState:
        """The state the case will be in when its first workflow task ends (opened, and acted on
        when the action comes with the start), for its summary and attributes at start."""
        if self._policy is None:
            self._policy = load_policy(Settings.from_env().policy_path)
        now = datetime.now(UTC)
        machine = CaseMachine.open(intake.key, intake, self._policy.snapshot(now), now)
        if action is not None and data is not None:
            try:
                machine.apply(action, data, now)
            except InvalidAction:
                pass  # the workflow refuses it too; the attributes stay those of the opening
        return machine.state

    def _priority(self, opening: CaseState) -> int:
        assert self._policy is not None  # loaded by `_opening`
        return priority_key(self._policy.routing, opening.tier, opening.intake.customer.tier)

    def handle(self, case_id: str) -> WorkflowHandle[AfterSalesCase, CaseReceipt]:
        return self.client.get_workflow_handle_for(AfterSalesCase.run, workflow_id_for(case_id))

    async def start(
        self, intake: CaseIntake | Mapping[str, Any], *, run: CaseRun | None = None, weight: float | None = None
    ) -> tuple[str, str | None, bool]:
        """Start the case without waiting for its first task: (case key, run id, created).

        For callers that open many cases at once (a product recall) and read them later. `weight`
        is the merchant's plan's fairness weight (cases/plans.py); without it, the standard one.
        """
        intake = _valid_intake(intake)
        case_id = intake.key
        # A resumed run opens nothing: its attributes come from the state it carries.
        opening = None if run and run.state else self._opening(intake)
        priority = self._priority(opening) if opening else None
        try:
            handle = await self.client.start_workflow(
                WORKFLOW_TYPE,
                start_input(intake, run),
                result_type=CaseReceipt,
                **start_options(intake, self.task_queue, opening, priority, weight, self._fair),
            )
            return case_id, handle.result_run_id, True
        except WorkflowAlreadyStartedError as err:
            # The same case id again: hand back the case that exists, never start another.
            return case_id, err.run_id, False
        except RPCError as err:
            raise CaseError(f"open case {case_id}: {err.message}", "unavailable") from err

    async def open(
        self, intake: CaseIntake | Mapping[str, Any], *, run: CaseRun | None = None, weight: float | None = None
    ) -> OpenResult:
        case_id, run_id, created = await self.start(intake, run=run, weight=weight)
        state = await self.wait_for_state(case_id)
        return OpenResult(
            case_id=case_id,
            workflow_id=workflow_id_for(case_id),
            run_id=run_id,
            tier=state.tier,
            status=state.status,
            created=created,
        )

    async def wait_for_state(self, case_id: str, timeout: float = 30.0) -> CaseState:
        """The case state, waiting while a just-started case captures its policy."""
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.05
        while True:
            try:
                return await self.state(case_id)
            except CaseError as err:
                if "still starting" not in str(err) or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def state(self, case_id: str) -> CaseState:
        try:
            return await self.handle(case_id).query(AfterSalesCase.state)
        except WorkflowQueryFailedError as err:
            raise CaseError(f"case {case_id}: {err.message}", "unavailable") from err
        except RPCError as err:
            raise _rpc_error(case_id, err) from err

    async def act(
        self, case_id: str, action: str, data: Action | Mapping[str, Any] | None = None
    ) -> CaseReceipt:
        """Act on the case; answered once the action is on record, with a receipt (`state()`
        reads the whole state)."""
        data = _valid_action(action, data)
        try:
            receipt: CaseReceipt = await self.handle(case_id).execute_update(
                action, data, result_type=CaseReceipt
            )
            return receipt
        except WorkflowUpdateFailedError as err:
            raise _refused(case_id, err) from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._why_not_found(case_id, action) from err
            raise _rpc_error(case_id, err) from err

    async def amend(self, case_id: str, amendment: PolicyAmendment) -> AmendmentAnswer:
        """Put a running case on amended rules (`cases/policy/amendment.py`); the same one twice is a no-op."""
        try:
            answer: AmendmentAnswer = await self.handle(case_id).execute_update(
                AMEND, amendment, result_type=AmendmentAnswer, rpc_timeout=AMEND_RPC_TIMEOUT
            )
            return answer
        except WorkflowUpdateFailedError as err:
            raise _refused(case_id, err) from err
        except WorkflowUpdateRPCTimeoutOrCancelledError as err:
            # The update may sit in the case's history unanswered and be applied once a worker
            # polls: a timeout is not a refusal, and the caller must not read it as one.
            raise CaseError(
                f"case {case_id}: no answer in {AMEND_RPC_TIMEOUT.seconds} s; is a worker running? "
                "The amendment may still be applied later; run the command again to see",
                "unavailable",
            ) from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise await self._why_not_found(case_id, AMEND) from err
            raise _rpc_error(case_id, err) from err

    async def open_and_act(
        self,
        intake: CaseIntake | Mapping[str, Any],
        action: str,
        data: Action | Mapping[str, Any] | None = None,
        weight: float | None = None,
    ) -> CaseReceipt:
        """Open the case and act on it in one request (update-with-start), answered once the
        action is on record; a case that already runs under this id takes the action instead.

        For callers that open and act at once, such as a phone agent who registers the call and
        gives the first response: it saves a round trip and a workflow task.
        """
        intake = _valid_intake(intake)
        model = _valid_action(action, data)
        case_id = intake.key
        opening = self._opening(intake, action, model)
        start: WithStartWorkflowOperation[Any, CaseReceipt] = WithStartWorkflowOperation(
            WORKFLOW_TYPE,
            start_input(intake),
            result_type=CaseReceipt,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            **start_options(intake, self.task_queue, opening, self._priority(opening), weight, self._fair),
        )
        try:
            receipt: CaseReceipt = await self.client.execute_update_with_start_workflow(
                action, model, start_workflow_operation=start, result_type=CaseReceipt
            )
            return receipt
        except WorkflowUpdateFailedError as err:
            raise _refused(case_id, err) from err
        except RPCError as err:
            raise _rpc_error(case_id, err) from err

    async def _why_not_found(self, case_id: str, action: str) -> CaseError:
        """An update to a finished case also answers NOT_FOUND; say which of the two it is."""
        try:
            status = (await self.state(case_id)).status.value
        except CaseError:
            return CaseError(f"case {case_id} not found", "not_found")
        return CaseError(f"case {case_id} is {status}; {action} is no longer accepted", "refused")

    async def list(self, query: str | None = None, limit: int = 100) -> list[CaseSummary]:
        full = cases_query(query)
        try:
            return [_summary(wf) async for wf in self.client.list_workflows(full, limit=limit)]
        except RPCError as err:
            raise CaseError(f"list: {err.message}", "unavailable") from err

    async def page(
        self, query: str | None, page_size: int, token: bytes | None = None
    ) -> tuple[Sequence[CaseSummary], bytes | None]:
        """One page of cases from visibility and the token of the next (None at the end)."""
        pages = self.client.list_workflows(cases_query(query), page_size=page_size, next_page_token=token)
        try:
            await pages.fetch_next_page()
        except RPCError as err:
            raise CaseError(f"list: {err.message}", "unavailable") from err
        return [_summary(wf) for wf in pages.current_page or []], pages.next_page_token or None


def _summary(wf: WorkflowExecution) -> CaseSummary:
    attrs = wf.typed_search_attributes
    return CaseSummary(
        case_id=case_id_from(wf.id),
        workflow_id=wf.id,
        merchant_id=attrs.get(sa.MERCHANT_ID),
        status=attrs.get(sa.CASE_STATUS),
        tier=attrs.get(sa.CASE_TIER),
        category=attrs.get(sa.CASE_CATEGORY),
        escalation_level=attrs.get(sa.ESCALATION_LEVEL),
        sla_state=attrs.get(sa.SLA_STATE),
        sla_due_at=attrs.get(sa.SLA_DUE_AT),
        order_id=attrs.get(sa.ORDER_ID),
        handler=attrs.get(sa.CASE_HANDLER) or None,
        team=attrs.get(sa.CASE_TEAM) or None,
        execution_status=wf.status.name.lower() if wf.status else "unknown",
    )


def _rpc_error(case_id: str, err: RPCError) -> CaseError:
    if err.status == RPCStatusCode.NOT_FOUND:
        return CaseError(f"case {case_id} not found", "not_found")
    if err.status == RPCStatusCode.INVALID_ARGUMENT:
        return CaseError(f"case {case_id}: {err.message}", "invalid")
    return CaseError(f"case {case_id}: {err.message}", "unavailable")


def _valid_intake(intake: CaseIntake | Mapping[str, Any]) -> CaseIntake:
    """The intake as the model, with a case id; a bad one is refused naming the field."""
    if not isinstance(intake, CaseIntake):
        try:
            intake = CaseIntake.model_validate(intake)
        except ValidationError as err:
            raise CaseError(validation_message(err)) from err
    if intake.case_id is None:
        intake = intake.model_copy(update={"case_id": uuid.uuid4().hex[:12]})
    return intake


def _valid_action(action: str, data: Action | Mapping[str, Any] | None) -> Action:
    model = ACTION_MODELS.get(action)
    if model is None:
        raise CaseError(f"unknown action {action!r}; one of: {', '.join(sorted(ACTION_MODELS))}", "not_found")
    if not isinstance(data, Action):
        try:
            return model.model_validate(dict(data or {}))
        except ValidationError as err:
            raise CaseError(validation_message(err, f"{action}.")) from err
    if not isinstance(data, model):
        raise CaseError(f"{action} takes {model.__name__}, not {type(data).__name__}")
    return data


def _refused(case_id: str, err: WorkflowUpdateFailedError) -> CaseError:
    """The case's own words when it refuses an action (the validator's or the handler's)."""
    cause = err.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    forbidden = isinstance(cause, ApplicationError) and cause.type == "NotAuthorized"
    return CaseError(f"case {case_id}: {message}", "forbidden" if forbidden else "refused")
