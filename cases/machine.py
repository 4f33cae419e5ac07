"""The case state machine: which action fits which status, and what each one changes.

Every change to a case goes through here and leaves an audit event (with a per-case sequence
number) and, where someone must hear of it, a queued notification. The workflow only moves time
forward and carries out the queued side effects; all decisions live in this pure, deterministic
class, which is why it can be tested without a Temporal server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cases.effects import Audience, Notification, NotificationChannel, RetiredClock
from cases.calendar import advance
from cases.classification import classify, team_for
from cases.durations import Duration
from cases.models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Acknowledge,
    Action,
    Approve,
    Assign,
    CaseEvent,
    CaseIntake,
    CaseState,
    Channel,
    ClockName,
    Confirm,
    CustomerReply,
    Dispute,
    Escalate,
    ExecutedStep,
    FollowUp,
    FollowUpOutcome,
    FollowUpResult,
    Note,
    Proposal,
    ProposeResolution,
    Rate,
    Reclassify,
    Reject,
    RequestInfo,
    Resolution,
    ResolutionType,
    ReviewDecision,
    Status,
    Withdraw,
    workflow_id_for,
)
from cases.policy import PolicySnapshot
from cases import sla

HANDLING_CLOCKS = (
    ClockName.FIRST_RESPONSE,
    ClockName.INITIAL_HANDLING,
    ClockName.RESOLUTION,
    ClockName.CLOSURE,
)
HIGHEST_LEVEL = 1
# Resolution types whose amount is paid out (an exchange refunds the price difference).
MONEY_MOVING = frozenset({ResolutionType.REFUND, ResolutionType.EXCHANGE, ResolutionType.COMPENSATION})


class InvalidAction(ValueError):
    """An action that does not fit the case as it stands. The state is left unchanged."""


_NOT_FINAL = frozenset(Status) - FINAL_STATUSES

# Which statuses each action is accepted in. Anything else is rejected by the update validator.
ALLOWED: dict[str, frozenset[Status]] = {
    "acknowledge": frozenset({Status.REGISTERED}),
    "assign": _NOT_FINAL,
    "note": _NOT_FINAL,
    "request_info": frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}),
    "customer_reply": frozenset({Status.AWAITING_CUSTOMER}),
    "reclassify": OPEN_STATUSES,
    "propose_resolution": frozenset({Status.REGISTERED, Status.ACKNOWLEDGED}),
    "approve": frozenset({Status.AWAITING_APPROVAL}),
    "reject": frozenset({Status.AWAITING_APPROVAL}),
    "confirm": frozenset({Status.AWAITING_CONFIRMATION}),
    "dispute": frozenset({Status.AWAITING_CONFIRMATION}),
    "rate": frozenset({Status.AWAITING_RATING}),
    "follow_up_result": frozenset({Status.FOLLOW_UP}),
    "escalate": _NOT_FINAL,
    "withdraw": OPEN_STATUSES,
}


class CaseMachine:
    def __init__(self, state: CaseState, policy: PolicySnapshot) -> None:
        self.state = state
        self.policy = policy
        # Side effects decided but not yet carried out; the workflow drains both lists.
        self.events: list[CaseEvent] = []
        self.notifications: list[Notification] = []
        # Clocks of an earlier round of handling, replaced by a reopen before being recorded.
        self.retired_clocks: list[RetiredClock] = []

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, case_id: str, intake: CaseIntake, policy: PolicySnapshot, now: datetime
    ) -> CaseMachine:
        tier = classify(intake, policy.complex_amount_threshold)
        state = CaseState(
            case_id=case_id,
            workflow_id=workflow_id_for(case_id),
            intake=intake,
            tier=tier,
            category=intake.category,
            status=Status.REGISTERED,
            escalation_level=policy.start_level(tier),
            team=team_for(intake),
            opened_at=now,
        )
        machine = cls(state, policy)
        machine._emit(
            "opened",
            "system",
            now,
            tier=tier.value,
            category=intake.category.value,
            channel=intake.channel.value,
            order_id=intake.order_id,
            escalation_level=state.escalation_level,
        )
        machine._start_handling_clocks(now)
        machine._notify_customer(
            "acknowledgement",
            now,
            "We have received your request",
            f"Case {case_id} for order {intake.order_id} is registered and will be handled "
            f"as {tier.value}.",
        )
        return machine

    # -- validation ----------------------------------------------------------------------------

    def check(self, action: str, data: Action) -> None:
        """Raise InvalidAction if `action` does not fit now; never changes anything."""
        status = self.state.status
        allowed = ALLOWED.get(action)
        if allowed is None:
            raise InvalidAction(f"unknown action {action!r}")
        if status not in allowed:
            raise InvalidAction(
                f"{action} is not allowed while the case is {status.value} "
                f"(allowed: {', '.join(sorted(s.value for s in allowed))})"
            )
        if action == "escalate" and self.state.escalation_level <= HIGHEST_LEVEL:
            raise InvalidAction("escalate: the case is already at level 1 (headquarters)")
        if action == "reclassify":
            assert isinstance(data, Reclassify)
            if data.tier is None and data.category is None and data.flags is None:
                raise InvalidAction("reclassify needs at least one of tier, category, flags")
        if action == "propose_resolution":
            assert isinstance(data, ProposeResolution)
            if data.type in MONEY_MOVING and data.amount > self.state.intake.order_amount:
                raise InvalidAction(
                    f"propose_resolution.amount {data.amount} exceeds the order amount "
                    f"{self.state.intake.order_amount}"
                )

    # -- actions -------------------------------------------------------------------------------

    def apply(self, action: str, data: Action, now: datetime) -> None:
        self.check(action, data)
        handler: Callable[[Any, datetime], None] = getattr(self, f"_on_{action}")
        handler(data, now)

    def _on_acknowledge(self, data: Acknowledge, now: datetime) -> None:
        self._emit("acknowledged", data.actor, now, message=data.message)
        self._first_response(now)
        self.state.status = Status.ACKNOWLEDGED
        if self.state.handler is None:
            self.state.handler = data.actor

    def _on_assign(self, data: Assign, now: datetime) -> None:
        self.state.handler = data.handler
        if data.team is not None:
            self.state.team = data.team
        self._emit("assigned", data.actor, now, handler=data.handler, team=data.team)

    def _on_note(self, data: Note, now: datetime) -> None:
        self._emit("note", data.actor, now, text=data.text)

    def _on_request_info(self, data: RequestInfo, now: datetime) -> None:
        self._emit("info_requested", data.actor, now, question=data.question)
        self._first_response(now)
        self.state.status = Status.AWAITING_CUSTOMER
        for clock in self._open_clocks():
            sla.pause(clock, now, self.policy.calendar)
            if clock.paused_at == now:  # a breached clock keeps counting; it did not pause
                self._emit("clock_paused", "system", now, clock=clock.name.value)
        self._notify_customer("info_request", now, "We need more information", data.question)

    def _on_customer_reply(self, data: CustomerReply, now: datetime) -> None:
        self._emit("customer_replied", data.actor, now, text=data.text)
        self.state.status = Status.ACKNOWLEDGED
        for clock in self._open_clocks():
            if clock.paused_at is not None:
                sla.resume(clock, now, self.policy.calendar, self.policy.warning_fraction)
                self._emit(
                    "clock_resumed",
                    "system",
                    now,
                    clock=clock.name.value,
                    due_at=_iso(clock.due_at),
                )

    def _on_reclassify(self, data: Reclassify, now: datetime) -> None:
        state = self.state
        intake = state.intake
        if data.category is not None or data.flags is not None:
            intake = intake.model_copy(
                update={
                    "category": data.category or intake.category,
                    "flags": data.flags or intake.flags,
                }
            )
            state.intake = intake
            state.category = intake.category
        old_tier = state.tier
        state.tier = data.tier or classify(intake, self.policy.complex_amount_threshold)
        team = team_for(intake)
        if team is not None:
            state.team = team
        # A more serious tier starts higher up the ladder; a milder one never de-escalates.
        state.escalation_level = min(state.escalation_level, self.policy.start_level(state.tier))
        targets = self._targets()
        for name in HANDLING_CLOCKS:
            clock = state.clocks.get(name)
            if clock is not None:
                sla.retarget(clock, targets[name], self.policy.calendar, self.policy.warning_fraction)
        self._emit(
            "reclassified",
            data.actor,
            now,
            old_tier=old_tier.value,
            tier=state.tier.value,
            category=state.category.value,
            reason=data.reason,
            due={n.value: _iso(c.due_at) for n, c in state.clocks.items() if sla.is_open(c)},
        )

    def _on_propose_resolution(self, data: ProposeResolution, now: datetime) -> None:
        state = self.state
        self._first_response(now)
        state.proposals_made += 1
        needs_approval = self.policy.needs_approval(state.tier, data.type, data.amount)
        state.proposal = Proposal(
            type=data.type,
            amount=data.amount,
            note=data.note,
            proposed_by=data.actor,
            proposed_at=now,
            needs_approval=needs_approval,
            number=state.proposals_made,
        )
        state.review = None
        self._emit(
            "resolution_proposed",
            data.actor,
            now,
            type=data.type.value,
            amount=str(data.amount),
            needs_approval=needs_approval,
            number=state.proposals_made,
        )
        self._meet(ClockName.INITIAL_HANDLING, now)
        if needs_approval:
            state.status = Status.AWAITING_APPROVAL
            target = self.policy.approval_target
            state.clocks[ClockName.APPROVAL] = sla.start_clock(
                ClockName.APPROVAL, target, now, self.policy.calendar, self.policy.warning_fraction
            )
            self._emit("clock_started", "system", now, **self._clock_data(ClockName.APPROVAL))
            self._notify_supervisor(
                "approval_requested",
                now,
                f"Approval needed: {data.type.value} {data.amount} {state.intake.currency}",
            )
        else:
            state.status = Status.RESOLVING

    def _on_approve(self, data: Approve, now: datetime) -> None:
        self.state.review = ReviewDecision(approved=True, by=data.actor, at=now, note=data.note)
        self._emit("approved", data.actor, now, note=data.note)
        self._meet(ClockName.APPROVAL, now)
        self.state.status = Status.RESOLVING

    def _on_reject(self, data: Reject, now: datetime) -> None:
        self.state.review = ReviewDecision(approved=False, by=data.actor, at=now, note=data.reason)
        self._emit("rejected", data.actor, now, reason=data.reason)
        self._meet(ClockName.APPROVAL, now)
        self.state.proposal = None
        self.state.status = Status.ACKNOWLEDGED

    def _on_confirm(self, data: Confirm, now: datetime) -> None:
        self._accept("confirmed", data.actor, now)

    def _on_dispute(self, data: Dispute, now: datetime) -> None:
        self._emit("disputed", data.actor, now, reason=data.reason)
        self._reopen(f"dispute: {data.reason}", now)

    def _on_rate(self, data: Rate, now: datetime) -> None:
        state = self.state
        state.rating = data.score
        state.rating_comment = data.comment
        state.survey_due_at = None
        self._emit("rated", data.actor, now, score=data.score, comment=data.comment)
        if data.score <= self.policy.low_rating_threshold:
            state.quality_review = True
            self._emit("quality_review_opened", "system", now, score=data.score)
            self._escalate(f"low satisfaction rating {data.score}", "system", now)
        self._after_rating(now)

    def _on_follow_up_result(self, data: FollowUpResult, now: datetime) -> None:
        follow_up = self.state.follow_up
        assert follow_up is not None
        follow_up.outcome = data.outcome
        follow_up.outcome_at = now
        self._emit("follow_up_result", data.actor, now, outcome=data.outcome.value, note=data.note)
        if data.outcome == FollowUpOutcome.RECURRED:
            self._reopen(f"problem recurred: {data.note}", now)
        else:
            self._close(now)

    def _on_escalate(self, data: Escalate, now: datetime) -> None:
        self._escalate(data.reason, data.actor, now)

    def _on_withdraw(self, data: Withdraw, now: datetime) -> None:
        self._emit("withdrawn", data.actor, now, reason=data.reason)
        self._stop_clocks(now)
        self.state.status = Status.WITHDRAWN
        self.state.closed_at = now

    # -- transitions driven by the workflow ----------------------------------------------------

    def resolution_executed(self, steps: list[ExecutedStep], now: datetime) -> None:
        state = self.state
        proposal = state.proposal
        assert proposal is not None
        state.resolution = Resolution(
            type=proposal.type, amount=proposal.amount, executed_at=now, steps=steps
        )
        state.resolved_at = now
        self._emit(
            "resolution_executed",
            "system",
            now,
            type=proposal.type.value,
            amount=str(proposal.amount),
            steps=[s.model_dump(mode="json") for s in steps],
        )
        self._meet(ClockName.RESOLUTION, now)
        state.status = Status.AWAITING_CONFIRMATION
        state.confirmation_due_at = self._after(now, self.policy.confirmation_window)
        self._notify_customer(
            "result",
            now,
            "Your case has been resolved",
            f"Resolution: {proposal.type.value}"
            + (f" of {proposal.amount} {state.intake.currency}" if proposal.amount else "")
            + ". Please confirm, or tell us if the problem is not solved.",
        )

    def resolution_failed(
        self, step: str, error: str, compensated: list[ExecutedStep], now: datetime
    ) -> None:
        self._emit(
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
        self._escalate(f"resolution step {step} failed: {error}", "system", now)

    def follow_up_scheduled(self, reference: str, scheduled_for: datetime, now: datetime) -> None:
        follow_up = self.state.follow_up
        if self.state.status != Status.FOLLOW_UP or follow_up is None:
            # The outcome arrived (or the case reopened) while the booking was in flight.
            self._emit("follow_up_booking_superseded", "system", now, reference=reference)
            return
        follow_up.reference = reference
        follow_up.scheduled_for = scheduled_for
        self._emit(
            "follow_up_scheduled",
            "system",
            now,
            reference=reference,
            scheduled_for=_iso(scheduled_for),
            reason=follow_up.reason,
        )

    def follow_up_due(self) -> datetime:
        """When the follow-up should happen: a fixed delay after the resolution."""
        base = self.state.resolved_at or self.state.opened_at
        return self._after(base, self.policy.follow_up_delay)

    def fire_due(self, now: datetime) -> None:
        """Everything whose time has come: clock warnings and breaches, and phase deadlines."""
        state = self.state
        if state.status in FINAL_STATUSES:
            return
        fired = []
        for clock in state.clocks.values():
            fired += sla.due_events(clock, now)
        for event in sorted(fired, key=lambda e: e.due_at):
            label = sla.LABELS[event.clock]
            clock = state.clocks[event.clock]
            if event.kind == "warning":
                self._emit("clock_warning", "system", now, **self._clock_data(event.clock))
                self._notify_supervisor(
                    "sla_warning",
                    now,
                    f"{label} SLA ({state.tier.value}) due {_iso(clock.due_at)}",
                )
            else:
                self._emit(
                    "clock_breached",
                    "system",
                    now,
                    **self._clock_data(event.clock),
                    detected_at=_iso(now),
                )
                self._escalate(f"{label} SLA breached", "system", now)
        if state.status == Status.AWAITING_CONFIRMATION and _due(state.confirmation_due_at, now):
            self._accept("accepted_by_silence", "system", now)
        if state.status == Status.AWAITING_RATING and _due(state.survey_due_at, now):
            state.survey_due_at = None
            self._emit("survey_timed_out", "system", now)
            self._after_rating(now)
        follow_up = state.follow_up
        if (
            state.status == Status.FOLLOW_UP
            and follow_up is not None
            and follow_up.scheduled_for is not None
            and _due(self._after(follow_up.scheduled_for, self.policy.follow_up_window), now)
        ):
            follow_up.outcome = FollowUpOutcome.UNREACHABLE
            follow_up.outcome_at = now
            self._emit("follow_up_result", "system", now, outcome="unreachable", note="no outcome")
            self._close(now)

    def next_wake(self) -> tuple[datetime, str] | None:
        """The next instant at which `fire_due` has something to do, with a label for the UI."""
        state = self.state
        if state.status in FINAL_STATUSES:
            return None
        candidates: list[tuple[datetime, str]] = []
        nxt = sla.next_instant(list(state.clocks.values()))
        if nxt is not None:
            at, event = nxt
            word = "due" if event.kind == "breach" else "warning at"
            candidates.append(
                (at, f"{sla.LABELS[event.clock]} SLA ({state.tier.value}) {word} "
                     f"{self._local(at)}")
            )
        if state.status == Status.AWAITING_CONFIRMATION and state.confirmation_due_at:
            candidates.append(
                (state.confirmation_due_at, f"confirmation window ends {self._local(state.confirmation_due_at)}")
            )
        if state.status == Status.AWAITING_RATING and state.survey_due_at:
            candidates.append(
                (state.survey_due_at, f"satisfaction survey closes {self._local(state.survey_due_at)}")
            )
        follow_up = state.follow_up
        if state.status == Status.FOLLOW_UP and follow_up and follow_up.scheduled_for:
            end = self._after(follow_up.scheduled_for, self.policy.follow_up_window)
            candidates.append((end, f"follow-up outcome expected by {self._local(end)}"))
        return min(candidates, key=lambda c: c[0]) if candidates else None

    # -- internals -----------------------------------------------------------------------------

    def _targets(self) -> dict[ClockName, Duration]:
        s = self.state
        return self.policy.targets_for(s.tier, s.category, s.intake.customer.tier)

    def _start_handling_clocks(self, now: datetime) -> None:
        targets = self._targets()
        for name in HANDLING_CLOCKS:
            self.state.clocks[name] = sla.start_clock(
                name, targets[name], now, self.policy.calendar, self.policy.warning_fraction
            )
            self._emit("clock_started", "system", now, **self._clock_data(name))

    def _open_clocks(self) -> list[sla.Clock]:
        return [c for c in self.state.clocks.values() if sla.is_open(c)]

    def _stop_clocks(self, now: datetime) -> None:
        for clock in self._open_clocks():
            sla.stop(clock, now, self.policy.calendar)

    def _meet(self, name: ClockName, now: datetime) -> None:
        clock = self.state.clocks.get(name)
        if clock is None or not sla.is_open(clock):
            return
        sla.meet(clock, now, self.policy.calendar)
        self._emit(
            "clock_met",
            "system",
            now,
            clock=name.value,
            elapsed_seconds=clock.elapsed_seconds,
            target_seconds=clock.target_seconds,
            on_time=clock.breached_at is None,
        )

    def _first_response(self, now: datetime) -> None:
        if self.state.first_response_at is None:
            self.state.first_response_at = now
        self._meet(ClockName.FIRST_RESPONSE, now)

    def _accept(self, how: str, actor: str, now: datetime) -> None:
        state = self.state
        state.confirmation = how
        state.confirmation_due_at = None
        self._emit(how, actor, now)
        self._meet(ClockName.CLOSURE, now)
        state.status = Status.AWAITING_RATING
        state.survey_due_at = self._after(now, self.policy.survey_timeout)
        self._notify_customer(
            "survey",
            now,
            "How did we do?",
            "Please rate our handling of your case from 1 (poor) to 5 (excellent).",
        )

    def _after_rating(self, now: datetime) -> None:
        state = self.state
        reason = self.policy.follow_up_reason(
            state.case_id, state.tier, state.intake.customer.tier
        )
        if state.quality_review:
            reason = "low_rating" if reason is None else f"{reason}+low_rating"
        if reason is None:
            self._close(now)
            return
        state.follow_up = FollowUp(required=True, reason=reason)
        state.status = Status.FOLLOW_UP

    def _reopen(self, reason: str, now: datetime) -> None:
        state = self.state
        self._stop_clocks(now)
        self.retired_clocks += [
            RetiredClock(round=state.reopen_count, clock=c.model_copy(deep=True))
            for c in state.clocks.values()
        ]
        state.reopen_count += 1
        state.proposal = None
        state.review = None
        state.resolution = None
        state.resolved_at = None
        state.confirmation = None
        state.confirmation_due_at = None
        state.survey_due_at = None
        state.follow_up = None
        state.first_response_at = None
        state.clocks.pop(ClockName.APPROVAL, None)
        state.status = Status.REGISTERED
        self._emit("reopened", "system", now, reason=reason, reopen_count=state.reopen_count)
        self._start_handling_clocks(now)
        self._notify_customer(
            "reopened", now, "Your case is reopened", f"We are looking at your case again: {reason}"
        )

    def _close(self, now: datetime) -> None:
        self._stop_clocks(now)
        self.state.status = Status.CLOSED
        self.state.closed_at = now
        self._emit("closed", "system", now)

    def _escalate(self, reason: str, actor: str, now: datetime) -> None:
        state = self.state
        before = state.escalation_level
        state.escalation_level = max(HIGHEST_LEVEL, before - 1)
        state.escalations += 1
        level = state.escalation_level
        self._emit(
            "escalated",
            actor,
            now,
            reason=reason,
            from_level=before,
            to_level=level,
            level_name=self.policy.level_name(level),
        )
        self._notify_supervisor(
            "escalation",
            now,
            f"Escalated to level {level} ({self.policy.level_name(level)}): {reason}",
        )

    def _emit(self, event_type: str, actor: str, now: datetime, **data: Any) -> CaseEvent:
        self.state.last_seq += 1
        event = CaseEvent(seq=self.state.last_seq, type=event_type, actor=actor, at=now, data=data)
        self.events.append(event)
        return event

    def _notify_customer(self, kind: str, now: datetime, subject: str, body: str) -> None:
        customer = self.state.intake.customer
        channels: list[NotificationChannel] = []
        if customer.phone:
            channels.append(NotificationChannel.SMS)
        if customer.email:
            channels.append(NotificationChannel.EMAIL)
        if self.state.intake.channel == Channel.APP or not channels:
            channels.append(NotificationChannel.PUSH)
        self._queue(kind, Audience.CUSTOMER, customer.id, channels, subject, body, now)

    def _notify_supervisor(self, kind: str, now: datetime, subject: str) -> None:
        level = self.state.escalation_level
        self._queue(
            kind,
            Audience.SUPERVISOR,
            self.policy.supervisor(level),
            [NotificationChannel.INTERNAL],
            subject,
            f"Case {self.state.case_id} ({self.state.tier.value}, level {level}): {subject}",
            now,
        )

    def _queue(
        self,
        kind: str,
        audience: Audience,
        recipient: str,
        channels: list[NotificationChannel],
        subject: str,
        body: str,
        now: datetime,
    ) -> None:
        event = self._emit("notification_queued", "system", now, kind=kind, recipient=recipient)
        key = f"{self.state.case_id}:{event.seq}:{kind}"
        self.state.notifications.append(key)
        self.notifications.append(
            Notification(
                key=key,
                case_id=self.state.case_id,
                kind=kind,
                audience=audience,
                recipient=recipient,
                channels=channels,
                subject=subject,
                body=body,
                data={"level": self.state.escalation_level, "tier": self.state.tier.value},
            )
        )

    def _clock_data(self, name: ClockName) -> dict[str, Any]:
        clock = self.state.clocks[name]
        return {
            "clock": name.value,
            "target": clock.target_label,
            "due_at": _iso(clock.due_at or clock.breached_at),
            "warn_at": _iso(clock.warn_at or clock.warned_at),
        }

    def _after(self, start: datetime, duration: Duration) -> datetime:
        return advance(self.policy.calendar, duration.business, start, duration.seconds)

    def _local(self, at: datetime) -> str:
        return at.astimezone(self.policy.calendar.zone).strftime("%m-%d %H:%M")


def _due(at: datetime | None, now: datetime) -> bool:
    return at is not None and at <= now


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None

