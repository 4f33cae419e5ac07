"""The what-if's timeline and replay on cases driven through the pure machine, no database.

A case is driven the way the workflow drives it (its wakes fired between actions), its audit
trail is read back into a timeline, and the replay under the same policy must give the same
trail; under a tighter policy the differences are the ones the policy explains.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine
from cases.models import ExecutedStep
from cases.policy.snapshot import Policy, load_policy
from reports.whatif.compare import differences
from reports.whatif.replay import replay
from reports.whatif.timeline import RecordedEvent, Step, StepKind, Timeline, timeline_of
from tests.support.factories import intake

OPENED = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
POLICY = load_policy(None)


class Drive:
    """The workflow's loop, by hand: fire each wake before the next action, then the action."""

    def __init__(self, policy: Policy, **overrides: Any) -> None:
        self.m = CaseMachine.open("wi-unit", intake(case_id="wi-unit", **overrides), policy.snapshot(OPENED), OPENED)
        self.now = OPENED

    def until(self, at: datetime) -> None:
        while (wake := self.m.next_wake()) is not None and wake[0] < at:
            self.m.fire_due(wake[0])
        self.now = at

    def act(self, after: timedelta, action: str, **data: Any) -> None:
        self.until(self.now + after)
        self.m.apply(action, ACTION_MODELS[action].model_validate(data), self.now)
        self.m.fire_due(self.now)

    def timeline(self) -> Timeline:
        events = [RecordedEvent(e.seq, e.type, e.actor, e.at, e.model_dump(mode="json")["data"])
                  for e in self.m.events]
        return timeline_of(self.m.state.model_dump(mode="json"), events, self.now)


def complex_case() -> Drive:
    d = Drive(POLICY, order_amount="6000.00")  # complex by its amount: first response in 24 h
    d.act(timedelta(hours=25), "acknowledge", actor="agent-1")  # after the breach
    d.act(timedelta(minutes=5), "escalate", reason="customer on the phone")  # by hand, as "system"
    d.act(timedelta(minutes=5), "request_info", actor="agent-1", question="Photo?")
    d.act(timedelta(hours=3), "customer_reply", text="Attached.")
    d.act(timedelta(minutes=10), "propose_resolution", actor="agent-1", type="refund", amount="899")
    d.act(timedelta(minutes=30), "approve", actor="supervisor-1", role="supervisor")
    d.until(d.now + timedelta(seconds=2))
    d.m.resolution_executed([ExecutedStep(step="refund", reference="RF-1")], d.now)
    d.act(timedelta(hours=1), "confirm")
    d.act(timedelta(hours=1), "rate", score=5)
    d.until(d.now + timedelta(seconds=5))
    d.m.follow_up_scheduled("FU-1", d.m.follow_up_due(), d.now)
    d.until(d.m.follow_up_due() + timedelta(hours=1))
    d.act(timedelta(0), "follow_up_result", actor="agent-9", outcome="satisfied")
    return d


def test_each_input_is_read_back_and_nothing_the_machine_emits() -> None:
    tl = complex_case().timeline()
    assert [(s.kind.value, s.name) for s in tl.steps] == [
        ("action", "acknowledge"), ("action", "escalate"), ("action", "request_info"),
        ("action", "customer_reply"), ("action", "propose_resolution"), ("action", "approve"),
        ("result", "resolution_executed"), ("action", "confirm"), ("action", "rate"),
        ("result", "follow_up_scheduled"), ("action", "follow_up_result"),
    ]
    assert not tl.unmapped
    # The acknowledgement came after the first response breached, the follow-up's outcome
    # after the reply owed since the customer's answer breached; nothing else followed one.
    assert [s.name for s in tl.steps if s.after_deadline] == ["acknowledge", "follow_up_result"]
    ack, esc, *_ = tl.steps
    assert dict(ack.data) == {"actor": "agent-1"}
    assert dict(esc.data) == {"actor": "system", "reason": "customer on the phone"}
    proposal = next(s for s in tl.steps if s.name == "propose_resolution")
    assert proposal.data["type"] == "refund" and proposal.data["amount"] == "899"
    approve = next(s for s in tl.steps if s.name == "approve")
    assert approve.data == {"actor": "supervisor-1", "note": "", "role": "supervisor"}
    # The machine's own escalations on the two breaches are not inputs; the one by hand is.
    escalations = [e.data["reason"] for e in tl.recorded if e.type == "escalated"]
    assert escalations == [
        "first response SLA breached", "customer on the phone", "next reply SLA breached"
    ]
    assert sum(s.name == "escalate" for s in tl.steps) == 1


def test_the_intake_is_rebuilt_as_sent() -> None:
    d = Drive(POLICY, description="The charger began to smoke.")  # read as urgent
    d.act(timedelta(minutes=3), "withdraw", reason="fixed")
    tl = d.timeline()
    assert d.m.state.intake.flags.safety_risk
    assert not tl.intake.flags.safety_risk  # the opening sets it again from the words
    assert [s.name for s in tl.steps] == ["withdraw"]


def test_the_replay_under_the_same_policy_is_exact() -> None:
    tl = complex_case().timeline()
    replayed = replay(tl, POLICY.snapshot(OPENED))
    assert replayed.error is None and not replayed.refused
    assert differences(tl, replayed) == []


def test_a_tighter_first_response_breaches_where_the_record_met_it() -> None:
    d = Drive(POLICY)
    d.act(timedelta(minutes=40), "acknowledge", actor="agent-1")
    d.act(timedelta(minutes=5), "propose_resolution", actor="agent-1", type="explanation")
    tl = d.timeline()
    assert not any(e.type == "clock_breached" for e in tl.recorded)
    tight = POLICY.model_copy(deep=True)
    tight.targets["general"]["first_response"] = "30m"  # type: ignore[index]
    replayed = replay(tl, tight.snapshot(OPENED))
    breaches = [e for e in replayed.events if e.type == "clock_breached"]
    assert [(e.data["clock"], e.at) for e in breaches] == [("first_response", OPENED + timedelta(minutes=30))]
    assert differences(tl, replayed)  # the trail differs from the breach on


def test_an_action_the_replayed_case_refuses_is_skipped_and_counted() -> None:
    d = Drive(POLICY, order_amount="300.00")
    d.act(timedelta(minutes=5), "acknowledge", actor="agent-1")
    d.act(timedelta(minutes=5), "propose_resolution", actor="agent-1", type="refund", amount="300")
    d.until(d.now + timedelta(seconds=2))
    d.m.resolution_executed([ExecutedStep(step="refund", reference="RF-1")], d.now)
    d.act(timedelta(hours=1), "confirm")
    tl = d.timeline()
    # Under a policy where every refund needs approval the case waits for one that never came.
    strict = POLICY.model_copy(deep=True)
    strict.approval.threshold = 0  # type: ignore[assignment]
    replayed = replay(tl, strict.snapshot(OPENED))
    assert replayed.error is None
    assert replayed.refused == {"confirm": 1}
    assert replayed.results_skipped == 1  # the refund's result: no longer waited for
    assert any(e.type == "resolution_proposed" and e.data["needs_approval"] for e in replayed.events)
    assert replayed.final.status.value == "awaiting_approval"


def test_a_result_out_of_place_is_skipped_and_a_broken_replay_is_an_error() -> None:
    tl = complex_case().timeline()
    tl.steps.insert(0, Step(0, OPENED, StepKind.RESULT, "resolution_failed", {"step": "refund"}))
    replayed = replay(tl, POLICY.snapshot(OPENED))
    assert replayed.error is None and replayed.results_skipped == 1

    broken = replay(tl, None)  # type: ignore[arg-type]
    assert broken.error is not None and broken.error.startswith("AttributeError")
    assert differences(tl, broken) == [f"wi-unit: replay failed: {broken.error}"]
