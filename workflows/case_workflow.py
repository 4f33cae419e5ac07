"""AfterSalesCase: one durable workflow per complaint, return, refund or repair request.

The workflow moves time forward and carries out side effects; `CaseMachine` decides. It sleeps
on one timer until the next SLA warning, breach or phase deadline (never a periodic sweep),
wakes early when an action arrives, records every change before the action's update returns,
and runs the resolution as a saga that undoes completed steps in reverse order when a later one
fails for good. It continues as new when the history grows, carrying state and policy snapshot.

The record (audit events, projection and outbox rows) is one local activity inside the task that
made the change, so an update is answered in that task; search attributes are upserted at most
once per task, only where they changed; the timer is re-armed only for an earlier deadline.

A case is pinned to the worker build it started on (a versioned worker pins every workflow it runs,
runtime/deployment/build.py; docs/DEPLOY.md): this code holds one path, and a change that would not
replay ships as a new build. When the deployment's current build changes, the case continues as
new onto it at its next wake.
"""


import asyncio
from datetime import datetime
from typing import Any, assert_never

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import LoadPolicy
    from activities.policy_source import PolicySource
    from activities.record_input import StateDelta, record_case
    from activities.store import CaseStore
    from cases.actions.parsing import ActionInputError, parse_action
    from cases.actions.registry import ACTIONS
    from cases.core import loop
    from cases.core.effects import Notification
    from cases.core.loop import Step
    from cases.core.machine import CaseMachine, InvalidAction
    from cases.ids import WORKFLOW_TYPE, case_id_from, split_case_key
    from cases.models import FINAL_STATUSES, Action, CaseIntake, CaseState, Note
    from cases.platform.actions import RemedyRequest
    from cases.platform.duties import item_to_read
    from cases.policy.snapshot import shared_snapshot
    from cases.receipt import CaseReceipt
    from cases.routing.models import RoutingChange
    from workflows import bookings, item_reads, routing_steps, saga, store_calls
    from workflows import retry_policies as rp
    from workflows.action_updates import payload_bytes, with_action_updates
    from workflows.amendments import amend_update
    from workflows.details import clock_table
    from workflows.meter import CaseMetrics
    from workflows.run_input import CaseInput, CaseRun
    from workflows.visibility import Visibility


__all__ = ["AfterSalesCase"]


@workflow.defn(name=WORKFLOW_TYPE)
@with_action_updates(ACTIONS)  # one named update per action of the registry
class AfterSalesCase:
    @workflow.init
    def __init__(self, intake: CaseInput) -> None:
        self._machine: CaseMachine | None = None
        self._changed = False
        self._recorded_seq = 0
        self._delta = StateDelta()
        self._visibility = Visibility()
        self._metrics = CaseMetrics()
        self._history_limit = (intake.resume or CaseRun()).history_limit
        # The instant a fired timer was set for. A fired timer proves its instant has come, even
        # when the task's clock lags it (seen after a server restart: a task ran with the previous
        # task's time, so its decisions disagreed with a later replay of the same history).
        self._reached: datetime | None = None
        self._timer: tuple[datetime, asyncio.Task[None]] | None = None
        self._tells: list[asyncio.Task[None]] = []  # routing notices to other cases, in flight
        self._notices: list[RoutingChange] = []

    # -- the main loop -------------------------------------------------------------------------

    @workflow.run
    async def run(self, intake: CaseInput) -> CaseReceipt:
        self._visibility.seed_from_start(fresh=intake.resume is None)
        machine = await self._begin(intake, intake.resume or CaseRun())
        # The order of what the case does next is the pure loop's (`cases/core/loop.py`), which
        # what-if drives too; here each step is a timer or an activity.
        while (step := loop.next_step(machine, self._now())) != Step.DONE:
            if step == Step.RESOLVE:
                await self._execute_resolution()
            elif step == Step.BOOK_FOLLOW_UP:
                await self._flush()
                await bookings.follow_up(machine)
            elif step == Step.ROUTE:
                await routing_steps.step(machine, self._tells)
            elif step == Step.BOOK_REPAIR:
                await self._flush()
                await bookings.repair(machine)
            elif step == Step.WAIT:
                if self._time_to_continue():
                    await self._continue_as_new()
                await self._sleep_until_next()
            else:
                assert_never(step)
        await routing_steps.finish(self._tells)
        await self._drain()
        workflow.logger.info("case %s ended as %s", machine.state.case_id, machine.state.status)
        return CaseReceipt.of(machine.state)

    async def _begin(self, intake: CaseIntake, run: CaseRun) -> CaseMachine:
        if run.state is not None and run.policy is not None:
            machine = CaseMachine(run.state, shared_snapshot(run.policy))
            machine.state.runs += 1
            self._recorded_seq = machine.state.last_seq
        else:
            now = workflow.now()
            # A caller that starts the workflow without naming the case names it by the id.
            key = intake.key if intake.case_id else case_id_from(workflow.info().workflow_id)
            merchant_id, case_id = split_case_key(key)
            policy = await workflow.execute_local_activity_method(
                PolicySource.load,
                LoadPolicy(opened_at=now, merchant_id=merchant_id),
                start_to_close_timeout=rp.POLICY_TIMEOUT,
                retry_policy=rp.POLICY_RETRY,
                summary="capture the SLA policy in force",
            )
            policy = shared_snapshot(policy)
            plain = CaseIntake.model_validate(
                intake.model_dump(exclude={"resume"}) | {"case_id": case_id, "merchant_id": merchant_id}
            )
            request = plain.request
            item = request.order.item if request is not None and request.order is not None else None
            repairs = await item_reads.read(merchant_id, item)
            machine = CaseMachine.open(key, plain, policy, now, item_repairs=repairs)
        self._machine = machine
        return machine

    async def _sleep_until_next(self) -> None:
        """Record, publish, then wait for an action or the armed timer, whichever comes first.

        A timer set for an instant no later than the next wake stays armed: waking early costs
        one empty task only if the case is still open then, where re-arming costs a timer now.
        """
        machine = self._require()
        wake = machine.next_wake()
        if wake is not None and wake[0] <= workflow.now():
            return  # due already: the loop fires it before anything is recorded
        # Cleared before recording, so an action applied while the record is written still
        # wakes the loop below.
        self._changed = False
        await self._flush()
        wake = machine.next_wake()
        if self._changed or (wake is not None and wake[0] <= workflow.now()):
            return  # an action arrived while the record was written: decide again first
        if wake is not None and (self._timer is None or self._timer[0] > wake[0]):
            if self._timer is not None:
                self._timer[1].cancel()
            at, label = wake
            self._timer = (at, asyncio.create_task(workflow.sleep(at - workflow.now(), summary=label)))
        timer = self._timer
        await workflow.wait_condition(lambda: self._changed or (timer is not None and timer[1].done()))
        if timer is not None and timer[1].done():
            self._reached, self._timer = timer[0], None

    def _now(self) -> datetime:
        now = workflow.now()
        reached, self._reached = self._reached, None
        return reached if reached is not None and reached > now else now

    def _time_to_continue(self) -> bool:
        """The history grew long, or the deployment has a new current build to move onto."""
        info = workflow.info()
        return (
            info.get_current_history_length() >= self._history_limit
            or info.is_continue_as_new_suggested()
            or info.is_target_worker_deployment_version_changed()
        )

    async def _continue_as_new(self) -> None:
        machine = self._require()
        await asyncio.gather(*self._tells)
        await self._drain()
        resume = CaseRun(state=machine.state, policy=machine.policy, history_limit=self._history_limit)
        # The next run starts on the current build and is pinned there from its first task; on an
        # unversioned worker (the time-skipping tests) the behaviour is ignored.
        workflow.continue_as_new(
            CaseInput.model_validate(machine.state.intake.model_dump() | {"resume": resume}),
            initial_versioning_behavior=workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE,
        )

    async def _drain(self) -> None:
        """Record what is pending and let every running handler return before the run ends."""
        while True:
            await self._flush()
            await workflow.wait_condition(
                lambda: workflow.all_handlers_finished() or self._has_pending()
            )
            if workflow.all_handlers_finished() and not self._has_pending():
                return

    # -- side effects --------------------------------------------------------------------------

    def _has_pending(self) -> bool:
        machine = self._machine
        return machine is not None and bool(machine.events or machine.notifications)

    async def _flush(self) -> None:
        """Before the workflow task ends: record what is pending and publish what changed."""
        machine = self._require()
        while machine.events or machine.notifications:
            events, machine.events = machine.events, []
            notifications, machine.notifications = machine.notifications, []
            retired, machine.retired_clocks = machine.retired_clocks, []
            self._metrics.events(events, machine.state.tier.value)
            await self._record(machine.state, events, retired, notifications)
        if routing_steps.hear_after_record(machine, self._notices, self._recorded_seq):
            self._changed = True  # what the notices changed is recorded on the next pass
        self._publish()

    async def _record(
        self,
        state: CaseState,
        events: list[Any],
        retired: list[Any],
        notifications: list[Notification],
    ) -> None:
        """Audit events, projection and outbox in one transaction, inside this workflow task."""
        request = record_case(state, events, retired, notifications, self._delta)
        result = await store_calls.local_first(
            CaseStore.record, request, f"record {len(events)} event(s): {_kinds(events)}"
        )
        self._delta.settled(result.state_current)
        if not result.state_current:
            # The store holds another state than the one the fields were computed on (a task
            # retried after its record committed): send it whole, now.
            whole = record_case(state, [], delta=self._delta)
            again = await store_calls.local_first(CaseStore.record, whole, "record the whole state")
            self._delta.settled(again.state_current)
        if events:
            self._recorded_seq = max(self._recorded_seq, events[-1].seq)

    def _publish(self) -> None:
        """Keep the UI's view current: search attributes (only what changed) and live details."""
        state = self._require().state
        updates = self._visibility.changes(state)
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(clock_table(state, self._require().policy.calendar.zone))

    async def _execute_resolution(self) -> None:
        await saga.run(self._require(), self._flush)

    # -- actions -------------------------------------------------------------------------------

    def _require(self) -> CaseMachine:
        if self._machine is None:
            raise ApplicationError("the case is still starting; try again", type="CaseStarting")
        return self._machine

    def _decode(self, action: str, raw: RawValue) -> Action:
        try:
            return parse_action(action, payload_bytes(raw))
        except ActionInputError as err:
            raise ApplicationError(str(err), type="InvalidAction", non_retryable=True) from None

    def _validate(self, action: str, raw: RawValue) -> None:
        data = self._decode(action, raw)
        # Before the policy is captured the state does not exist yet; the handler checks again.
        if self._machine is not None:
            try:
                self._machine.check(action, data, workflow.now())
            except InvalidAction as err:
                raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

    async def _act(self, action: str, raw: RawValue) -> CaseReceipt:
        data = self._decode(action, raw)
        await workflow.wait_condition(lambda: self._machine is not None)
        machine = self._require()
        if isinstance(data, RemedyRequest) and (item := item_to_read(machine, data)):
            try:
                machine.check(action, data, workflow.now())  # refused before anything is read
            except InvalidAction as err:
                raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err
            read = await item_reads.read(machine.state.intake.merchant_id, item)
            assert read is not None
            machine.item_history(read)
        try:
            machine.apply(action, data, workflow.now())
        except InvalidAction as err:
            # What fell due before the action may have moved the case even though the action
            # does not fit; the loop records it.
            self._changed = self._changed or bool(machine.events)
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err
        self._metrics.action(action)
        seq = machine.state.last_seq
        self._changed = True
        # Return only once the change is in the record, so callers can read their own writes.
        await workflow.wait_condition(lambda: self._recorded_seq >= seq)
        return CaseReceipt.of(machine.state)

    @workflow.query
    def state(self) -> CaseState:
        return self._require().state

    @workflow.signal
    def add_note(self, data: Note) -> None:
        """Fire-and-forget note, for systems that cannot wait for an update's answer."""
        if (
            isinstance(data, Note)
            and self._machine is not None
            and self._machine.state.status not in FINAL_STATUSES
        ):
            self._machine.apply("note", data, workflow.now())
            self._metrics.action("note")
            self._changed = True

    @workflow.signal(name=routing_steps.ROUTED_SIGNAL)
    def routed(self, change: RoutingChange) -> None:
        """The roster assigned this case from its team's queue (another case freed a seat)."""
        if isinstance(change, RoutingChange) and routing_steps.hear(self._machine, self._notices, change):
            self._changed = True

    # Not an action: the operator's policy amendment (`aftersales amend`, workflows/amendments.py).
    amend = amend_update()


def _kinds(events: list[Any]) -> str:
    kinds = [e.type for e in events if e.type != "notification_queued"]
    text = ", ".join(dict.fromkeys(kinds)) or "notifications"
    return text if len(text) <= 80 else text[:77] + "..."
