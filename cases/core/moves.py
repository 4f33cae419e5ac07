"""The case's state and the moves every decision is built from: clocks, escalation, notices.

`CaseCore` holds a case's state and policy and the side effects decided but not yet carried out
(audit events, notifications, retired clocks). Its methods are the vocabulary the action
handlers (`cases/actions/handlers.py`) and the time-driven transitions (`cases/core/machine.py`) share:
start, pause and meet clocks, escalate one level, accept, reopen and close, and queue an audit
event or a notification. Pure and deterministic, with no I/O and no clock of its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cases.clocks import sla
from cases.clocks.calendar import advance
from cases.clocks.durations import Duration
from cases.clocks.specs import CLOCKS, HANDLING_CLOCKS, Owner
from cases.core.effects import Audience, Notification, NotificationChannel, RetiredClock
from cases.intervention.models import Stage
from cases.models import CaseEvent, CaseState, Channel, Clock, ClockName, FollowUp, Status
from cases.policy.snapshot import PolicySnapshot

HIGHEST_LEVEL = 1


class InvalidAction(ValueError):
    """An action that does not fit the case as it stands. The state is left unchanged."""


class NotAuthorized(InvalidAction):
    """An action this actor may not take on this case (a self-approval, an amount over their
    level): refused like any other, and told apart so an API answers it as forbidden."""


class CaseCore:
    def __init__(self, state: CaseState, policy: PolicySnapshot) -> None:
        self.state = state
        self.policy = policy
        # Side effects decided but not yet carried out; the workflow drains both lists.
        self.events: list[CaseEvent] = []
        self.notifications: list[Notification] = []
        # Clocks of an earlier round of handling, replaced by a reopen before being recorded.
        self.retired_clocks: list[RetiredClock] = []
        # The instant of the action being checked or applied, for rules with a window in time.
        self.now_hint: datetime = state.opened_at

    def targets(self) -> dict[ClockName, Duration]:
        s = self.state
        return self.policy.targets_for(s.tier, s.category, s.intake.customer.tier)

    def start_handling_clocks(self, now: datetime) -> None:
        targets = self.targets()
        for name in HANDLING_CLOCKS:
            self.state.clocks[name] = sla.start_clock(
                name, targets[name], now, self.policy.calendar, self.policy.warning_fraction
            )
            self.emit("clock_started", "system", now, **self.clock_data(name))

    def target(self, name: ClockName) -> Duration | None:
        """The clock's target for this case, from where its spec says the policy sets it."""
        s = self.state
        return self.policy.target(name, s.tier, s.category, s.intake.customer.tier)

    def start_clock(self, name: ClockName, now: datetime) -> None:
        """Start `name`; a clock of that name run earlier in this round keeps its own record.
        A clock the case's policy has no target for (it opened before the clock existed) is not
        started: the case keeps the rules it opened on."""
        target = self.target(name)
        if target is None:
            return
        earlier = self.state.clocks.get(name)
        clock = sla.start_clock(name, target, now, self.policy.calendar, self.policy.warning_fraction)
        if earlier is not None:
            self.retired_clocks.append(
                RetiredClock(round=self.state.reopen_count, clock=earlier.model_copy(deep=True))
            )
            clock.turn = earlier.turn + 1
        self.state.clocks[name] = clock
        self.emit("clock_started", "system", now, **self.clock_data(name))

    def pause_clocks(self, now: datetime, keep: frozenset[ClockName] = frozenset()) -> None:
        """Stop counting while the case waits on the customer (STANDARDS S1.7). The merchant's and
        the buyer's duties are the platform's deadlines, not the service's: they never pause (S15.4)."""
        for clock in self.open_clocks():
            if clock.name in keep or CLOCKS[clock.name].owner in (Owner.MERCHANT, Owner.BUYER):
                continue
            sla.pause(clock, now, self.policy.calendar)
            if clock.paused_at == now:  # a breached clock keeps counting; it did not pause
                self.emit("clock_paused", "system", now, clock=clock.name.value)

    def resume_clocks(self, now: datetime) -> None:
        for clock in self.open_clocks():
            if clock.paused_at is not None:
                self.resume(clock, now)

    def resume(self, clock: Clock, now: datetime) -> None:
        sla.resume(clock, now, self.policy.calendar, self.policy.warning_fraction)
        self.emit("clock_resumed", "system", now, clock=clock.name.value, due_at=iso(clock.due_at))

    def open_clocks(self) -> list[Clock]:
        return [c for c in self.state.clocks.values() if sla.is_open(c)]

    def stop_clocks(self, now: datetime) -> None:
        for clock in self.open_clocks():
            sla.stop(clock, now, self.policy.calendar)

    def meet(self, name: ClockName, now: datetime) -> None:
        clock = self.state.clocks.get(name)
        if clock is None or not sla.is_open(clock):
            return
        sla.meet(clock, now, self.policy.calendar)
        self.emit(
            "clock_met",
            "system",
            now,
            clock=name.value,
            elapsed_seconds=clock.elapsed_seconds,
            target_seconds=clock.target_seconds,
            on_time=clock.breached_at is None,
        )

    def first_response(self, now: datetime) -> None:
        if self.state.first_response_at is None:
            self.state.first_response_at = now
        self.meet(ClockName.FIRST_RESPONSE, now)

    def accept(self, how: str, actor: str, now: datetime) -> None:
        state = self.state
        state.confirmation = how
        state.confirmation_due_at = None
        self.emit(how, actor, now)
        self.meet(ClockName.CLOSURE, now)
        state.status = Status.AWAITING_RATING
        state.survey_due_at = self.after(now, self.policy.survey_timeout)
        self.notify_customer(
            "survey",
            now,
            "How did we do?",
            "Please rate our handling of your case from 1 (poor) to 5 (excellent).",
        )

    def after_rating(self, now: datetime) -> None:
        state = self.state
        reason = self.policy.follow_up_reason(
            state.case_id, state.tier, state.intake.customer.tier
        )
        if state.quality_review:
            reason = "low_rating" if reason is None else f"{reason}+low_rating"
        if reason is None:
            self.close(now)
            return
        state.follow_up = FollowUp(required=True, reason=reason)
        state.status = Status.FOLLOW_UP

    def reopen(self, reason: str, now: datetime) -> None:
        state = self.state
        self.stop_clocks(now)
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
        state.return_leg = None
        state.repair = None
        for name in [n for n in state.clocks if n not in HANDLING_CLOCKS]:
            state.clocks.pop(name)  # their last form is among the retired clocks
        state.status = Status.REGISTERED
        self.emit("reopened", "system", now, reason=reason, reopen_count=state.reopen_count)
        self.start_handling_clocks(now)
        self.notify_customer(
            "reopened", now, "Your case is reopened", f"We are looking at your case again: {reason}"
        )

    def close(self, now: datetime) -> None:
        self.stop_clocks(now)
        self.state.status = Status.CLOSED
        self.state.closed_at = now
        self.emit("closed", "system", now)
        self.end_intervention(now)

    def end_intervention(self, now: datetime) -> None:
        """A case that ends ends the platform's intervention too, releasing the order's settlement."""
        found = self.state.intervention
        if found is not None and found.stage != Stage.CLOSED:
            found.stage, found.closed_at = Stage.CLOSED, now
            self.emit("intervention_closed", "system", now, stage=int(found.stage))

    def escalate(self, reason: str, actor: str, now: datetime) -> None:
        state = self.state
        before = state.escalation_level
        state.escalation_level = max(HIGHEST_LEVEL, before - 1)
        state.escalations += 1
        level = state.escalation_level
        self.emit(
            "escalated",
            actor,
            now,
            reason=reason,
            from_level=before,
            to_level=level,
            level_name=self.policy.level_name(level),
        )
        self.notify_supervisor(
            "escalation",
            now,
            f"Escalated to level {level} ({self.policy.level_name(level)}): {reason}",
        )

    def emit(self, event_type: str, actor: str, now: datetime, **data: Any) -> CaseEvent:
        self.state.last_seq += 1
        event = CaseEvent(seq=self.state.last_seq, type=event_type, actor=actor, at=now, data=data)
        self.events.append(event)
        return event

    def notify_customer(
        self, kind: str, now: datetime, subject: str, body: str, **data: Any
    ) -> None:
        customer = self.state.intake.customer
        channels: list[NotificationChannel] = []
        if customer.reachable_by_sms:
            channels.append(NotificationChannel.SMS)
        if customer.reachable_by_email:
            channels.append(NotificationChannel.EMAIL)
        if self.state.intake.channel == Channel.APP or not channels:
            channels.append(NotificationChannel.PUSH)
        self.queue(kind, Audience.CUSTOMER, customer.id, channels, subject, body, now, **data)

    def notify_supervisor(self, kind: str, now: datetime, subject: str) -> None:
        level = self.state.escalation_level
        self.queue(
            kind,
            Audience.SUPERVISOR,
            self.policy.supervisor(level),
            [NotificationChannel.INTERNAL],
            subject,
            f"Case {self.state.case_id} ({self.state.tier.value}, level {level}): {subject}",
            now,
        )

    def queue(
        self,
        kind: str,
        audience: Audience,
        recipient: str,
        channels: list[NotificationChannel],
        subject: str,
        body: str,
        now: datetime,
        **data: Any,
    ) -> None:
        event = self.emit("notification_queued", "system", now, kind=kind, recipient=recipient)
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
                data={"level": self.state.escalation_level, "tier": self.state.tier.value} | data,
            )
        )

    def clock_data(self, name: ClockName) -> dict[str, Any]:
        clock = self.state.clocks[name]
        return {
            "clock": name.value,
            "target": clock.target_label,
            "due_at": iso(clock.due_at or clock.breached_at),
            "warn_at": iso(clock.warn_at or clock.warned_at),
        }

    def after(self, start: datetime, duration: Duration) -> datetime:
        return advance(self.policy.calendar, duration.business, start, duration.seconds)

    def local(self, at: datetime) -> str:
        return at.astimezone(self.policy.calendar.zone).strftime("%m-%d %H:%M")


def due(at: datetime | None, now: datetime) -> bool:
    return at is not None and at <= now


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None

