"""The case state machine: actions, time-driven transitions, and what the workflow reports back.

Every change to a case goes through here and leaves an audit event (with a per-case sequence
number) and, where someone must hear of it, a queued notification. The workflow only moves time
forward and carries out the queued side effects; all decisions live in this pure, deterministic
class, which is why it can be tested without a Temporal server. Which action does what is the
registry's business (`cases/actions/registry.py`); this class opens a case, applies actions through the
registry, fires what falls due, and takes the results of the resolution and follow-up steps.
"""

from __future__ import annotations

from datetime import datetime

from cases.actions import registry as actions
from cases.clocks import sla
from cases.clocks.specs import CLOCKS, ClockSpec, OnBreach, OnWarning
from cases.core.deadlines import DEADLINES
from cases.core.moves import CaseCore, InvalidAction, due, iso
from cases.fulfilment import legs
from cases.fulfilment.models import RepairJob
from cases.ids import workflow_id_for
from cases.intake.classification import classify, flags_from_text
from cases.intervention import hearing, ruling
from cases.models import (
    FINAL_STATUSES,
    Action,
    CaseIntake,
    CaseState,
    ClockName,
    ExecutedStep,
    Status,
)
from cases.platform import duties
from cases.platform.models import ItemRepairs
from cases.policy import amendment
from cases.policy.amendment import AmendmentAnswer, PolicyAmendment
from cases.policy.snapshot import PolicySnapshot
from cases.routing import placement
from cases.routing.models import Routing, RoutingChange, RoutingOp

__all__ = ["CaseMachine", "InvalidAction"]


class CaseMachine(CaseCore):
    @classmethod
    def open(
        cls,
        case_id: str,
        intake: CaseIntake,
        policy: PolicySnapshot,
        now: datetime,
        item_repairs: ItemRepairs | None = None,
    ) -> CaseMachine:
        intake, found = flags_from_text(intake, policy.intake.signals)
        tier = classify(intake, policy.complex_amount_threshold)
        team = placement.team_for(policy, intake, tier)
        state = CaseState(
            case_id=case_id,
            workflow_id=workflow_id_for(case_id),
            intake=intake,
            tier=tier,
            category=intake.category,
            status=Status.REGISTERED,
            escalation_level=policy.start_level(tier),
            team=team,
            opened_at=now,
            routing=Routing(team=team),
            item_repairs=item_repairs,
        )
        machine = cls(state, policy)
        machine.emit(
            "opened",
            "system",
            now,
            tier=tier.value,
            category=intake.category.value,
            channel=intake.channel.value,
            order_id=intake.order_id,
            escalation_level=state.escalation_level,
        )
        if found:
            machine.emit("classified_from_text", "system", now, flags=sorted(found), phrases=found)
        machine.start_handling_clocks(now)
        machine.notify_customer(
            "acknowledgement",
            now,
            "We have received your request",
            f"Case {case_id} for order {intake.order_id} is registered and will be handled "
            f"as {tier.value}.",
        )
        if intake.request is not None and policy.platform is not None:
            duties.ask(machine, intake.request, "customer", now, at_open=True)
        return machine

    # -- actions -------------------------------------------------------------------------------

    def check(self, action: str, data: Action, now: datetime | None = None) -> None:
        """Raise InvalidAction if `action` does not fit at `now` (else the last instant the case
        saw); never changes anything."""
        if now is not None:
            self.now_hint = now
        actions.check(self, action, data)

    def apply(self, action: str, data: Action, now: datetime) -> None:
        # An action that arrives with a deadline already past (in the task its timer fires in,
        # or after an outage) comes after that deadline: a lapsed return stays lapsed.
        self.fire_due(now)
        self.now_hint = now
        actions.apply(self, action, data, now)

    def item_history(self, repairs: ItemRepairs) -> None:
        """The item's earlier repairs, read from the record before a request names it."""
        self.state.item_repairs = repairs

    def check_amendment(self, data: PolicyAmendment, now: datetime) -> None:
        amendment.check(self, data, now)

    def amend(self, data: PolicyAmendment, now: datetime) -> AmendmentAnswer:
        """Put the case on amended rules (`cases/policy/amendment.py`), after what fell due before."""
        self.fire_due(now)
        return amendment.amend(self, data, now)

    # -- transitions driven by the workflow ----------------------------------------------------

    def routing_settled(
        self, op: RoutingOp, change: RoutingChange, now: datetime, taken_by: str | None = None
    ) -> None:
        placement.settled(self, op, change, now, taken_by)

    def routing_notice(self, change: RoutingChange, now: datetime) -> bool:
        """Another case's release (or the roster command) assigned this one from the queue.
        A notice that cannot be the roster's word on this case is refused (False)."""
        if not placement.acceptable(self.state, change):
            return False
        placement.apply(self, change, now)
        return True

    def resolution_executed(self, steps: list[ExecutedStep], now: datetime) -> None:
        proposal = self.state.proposal
        legs.executed(self, steps, now)
        if proposal is not None and any(s.step == "platform_refund" for s in steps):
            ruling.platform_refunded(self, proposal.amount)

    def repair_booked(
        self, job: RepairJob, reference: str, scheduled_for: datetime, now: datetime
    ) -> bool:
        return legs.repair_booked(self, job, reference, scheduled_for, now)

    def repair_booking_failed(self, job: RepairJob, error: str, now: datetime) -> None:
        if legs.repair_booking_failed(self, job, error, now):
            self.resolution_failed("repair_visit", error, [], now)

    def repair_visit_due(self, now: datetime) -> datetime:
        return legs.repair_visit_due(self, now)

    def resolution_failed(
        self, step: str, error: str, compensated: list[ExecutedStep], now: datetime
    ) -> None:
        self.emit(
            "resolution_failed",
            "system",
            now,
            step=step,
            error=error,
            compensated=[s.model_dump(mode="json") for s in compensated],
        )
        self.state.proposal = None
        self.state.status = Status.ACKNOWLEDGED
        # A person has to find another remedy; the resolution clock keeps running meanwhile.
        self.escalate(f"resolution step {step} failed: {error}", "system", now)
        if step == "platform_refund":
            ruling.platform_refund_failed(self, now)

    def follow_up_scheduled(self, reference: str, scheduled_for: datetime, now: datetime) -> None:
        follow_up = self.state.follow_up
        if self.state.status != Status.FOLLOW_UP or follow_up is None:
            # The outcome arrived (or the case reopened) while the booking was in flight.
            self.emit("follow_up_booking_superseded", "system", now, reference=reference)
            return
        follow_up.reference = reference
        follow_up.scheduled_for = scheduled_for
        self.emit(
            "follow_up_scheduled",
            "system",
            now,
            reference=reference,
            scheduled_for=iso(scheduled_for),
            reason=follow_up.reason,
        )

    def follow_up_due(self) -> datetime:
        """When the follow-up should happen: a fixed delay after the resolution."""
        base = self.state.resolved_at or self.state.opened_at
        return self.after(base, self.policy.follow_up_delay)

    def fire_due(self, now: datetime) -> None:
        """Everything whose time has come: the roster's, the clocks' warnings and breaches as
        their specs say (`cases/clocks/specs.py`), and the phase deadlines (`deadlines`)."""
        state = self.state
        if state.status in FINAL_STATUSES:
            return
        placement.fire_due(self, now)
        fired = []
        for clock in state.clocks.values():
            fired += sla.due_events(clock, now)
        for event in sorted(fired, key=lambda e: e.due_at):
            if state.status in FINAL_STATUSES:
                break  # a lapsed return ends the case; later instants of it no longer matter
            spec = CLOCKS[event.clock]
            if event.kind == "warning":
                self.emit("clock_warning", "system", now, **self.clock_data(event.clock))
                self._warned(spec, event.clock, now)
            else:
                self.emit(
                    "clock_breached", "system", now, **self.clock_data(event.clock), detected_at=iso(now)
                )
                self._breached(spec, event.clock, now)
        for deadline in DEADLINES:
            if state.status in FINAL_STATUSES:
                return
            if due(deadline.at(self), now):
                deadline.fire(self, now)

    def _warned(self, spec: ClockSpec, name: ClockName, now: datetime) -> None:
        if spec.on_warning == OnWarning.REMIND_TO_SHIP:
            self._remind_to_ship(now)
            return
        clock = self.state.clocks[name]
        self.notify_supervisor(
            "sla_warning",
            now,
            f"{spec.label} SLA ({self.state.tier.value}) due {iso(clock.due_at or clock.breached_at)}",
        )

    def _breached(self, spec: ClockSpec, name: ClockName, now: datetime) -> None:
        if spec.on_breach == OnBreach.LAPSE_RETURN:
            breached_at = self.state.clocks[name].breached_at
            assert breached_at is not None
            legs.lapse(self, breached_at, now)
            return
        if spec.on_breach == OnBreach.ASK_POLICY and legs.warehouse_silent(self, now):
            return
        if spec.on_breach == OnBreach.AGREE_BY_SILENCE:
            duties.agreed_by_silence(self, now)
            return
        if spec.on_breach == OnBreach.REFUND_BY_SILENCE:
            legs.delivered_return_unhandled(self, now)
            return
        if spec.on_breach == OnBreach.HEAR_ON_EVIDENCE:
            hearing.evidence_window_ended(self, name, now)
            return
        if spec.on_breach == OnBreach.PLATFORM_PAYS:
            ruling.not_carried_out(self, now)
            return
        self.escalate(f"{spec.label} SLA breached", "system", now)
        if spec.on_breach == OnBreach.CHASE_CARRIER:
            self.resume_clocks(now)

    def _remind_to_ship(self, now: datetime) -> None:
        leg = self.state.return_leg
        window = self.state.clocks[ClockName.RETURN_WINDOW]
        assert leg is not None
        if window.due_at is None:
            return  # the window ends in the same instant: the lapse notice says it all
        self.notify_customer(
            "return_reminder",
            now,
            "Reminder: please ship your return",
            f"Return {leg.rma} must be shipped by {self.local(window.due_at)}, or it lapses.",
            rma=leg.rma,
        )

    def next_wake(self) -> tuple[datetime, str] | None:
        """The next instant at which `fire_due` has something to do, with a label for the UI."""
        state = self.state
        if state.status in FINAL_STATUSES:
            return None
        candidates: list[tuple[datetime, str]] = placement.next_wake(self)
        nxt = sla.next_instant(list(state.clocks.values()))
        if nxt is not None:
            at, event = nxt
            word = "due" if event.kind == "breach" else "warning at"
            candidates.append(
                (at, f"{CLOCKS[event.clock].label} SLA ({state.tier.value}) {word} {self.local(at)}")
            )
        for deadline in DEADLINES:
            ends = deadline.at(self)
            if ends is not None:
                candidates.append((ends, deadline.label.format(at=self.local(ends))))
        return min(candidates, key=lambda c: c[0]) if candidates else None
