"""The customer's view of their case (STANDARDS S13.3): plain words, the next step and its
deadline, the customer's own actions, and a public timeline with nothing internal in it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from cases.fulfilment_actions import AgentReply
from cases.models import (
    Acknowledge,
    Approve,
    Assign,
    ClockName,
    Escalate,
    Note,
    ProposeResolution,
    ResolutionType,
    Status,
)
from cases.progress import customer_progress
from tests.unit.helpers import HOUR, MINUTE, T0, executed, general, machine_in


def events_of(m):  # type: ignore[no-untyped-def]
    return list(m.events)


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_words_in_both_languages(policy, status) -> None:
    m, at = machine_in(policy, status)
    for language in ("en", "zh"):
        view = customer_progress(m.state, events_of(m), at, language)
        assert view.status == status and view.headline and view.next_step
        assert "{" not in view.headline  # every placeholder filled


def test_a_refund_from_opening_to_confirmation(policy) -> None:
    m = general(policy)
    view = customer_progress(m.state, events_of(m), T0)
    assert view.headline == "We have received your request."
    assert view.next_deadline == m.state.clocks[ClockName.FIRST_RESPONSE].due_at
    assert view.actions_available == ["customer_message"]
    assert [e.title for e in view.timeline] == ["Request received"]

    m.apply("acknowledge", Acknowledge(actor="agent-1"), T0 + MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.REFUND,
                                                    amount=Decimal("800")), T0 + 2 * MINUTE)
    view = customer_progress(m.state, events_of(m), T0 + 2 * MINUTE)
    assert view.headline == "A refund of 800 CNY is being reviewed."
    m.apply("approve", Approve(actor="supervisor-1", role="supervisor", note="internal: ok by finance"), T0 + HOUR)
    m.resolution_executed(executed(), T0 + HOUR + MINUTE)
    view = customer_progress(m.state, events_of(m), T0 + HOUR + MINUTE, "zh")
    assert view.headline == "800 CNY的退款已完成。"
    assert view.next_deadline == m.state.confirmation_due_at
    assert view.actions_available == ["confirm", "customer_message", "dispute"]
    executed_event = view.timeline[-1]
    assert executed_event.title == "方案已执行" and executed_event.detail == "refund-ref-1"


def test_a_return_shows_its_window_and_then_the_parcel(policy) -> None:
    m, at = machine_in(policy, Status.AWAITING_RETURN)
    view = customer_progress(m.state, events_of(m), at)
    assert view.next_deadline == m.state.clocks[ClockName.RETURN_WINDOW].due_at
    rma = m.state.return_leg.rma if m.state.return_leg else None
    assert rma and any(e.title == "Return authorised" and e.detail == rma for e in view.timeline)
    m, at = machine_in(policy, Status.RETURN_IN_TRANSIT)
    view = customer_progress(m.state, events_of(m), at)
    assert view.headline == "Your return parcel is on its way to us."
    assert [e.detail for e in view.timeline if e.title == "Return shipped"] == ["SF1234567890"]


@pytest.mark.parametrize(("status", "headline"), [
    (Status.CLOSED, "Your case is closed."), (Status.WITHDRAWN, "Your request was withdrawn."),
])
def test_a_finished_case_asks_nothing_more(policy, status, headline) -> None:
    m, at = machine_in(policy, status)
    view = customer_progress(m.state, events_of(m), at)
    assert (view.headline, view.next_deadline, view.actions_available) == (headline, None, [])
    assert view.timeline[-1].title in ("Case closed", "Request withdrawn")


def test_nothing_internal_reaches_the_customer(policy) -> None:
    m = general(policy)
    m.apply("assign", Assign(actor="lead-zhou", handler="agent-wu"), T0 + MINUTE)
    m.apply("note", Note(actor="agent-wu", text="SECRET: customer sounds angry"), T0 + 2 * MINUTE)
    m.apply("agent_reply", AgentReply(actor="agent-wu", text="We are checking your order."), T0 + 3 * MINUTE)
    m.apply("escalate", Escalate(actor="lead-zhou", reason="INTERNAL escalation"), T0 + 4 * MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor="agent-wu", type=ResolutionType.REFUND,
                                                    amount=Decimal("900")), T0 + 5 * MINUTE)
    m.apply("approve", Approve(actor="reviewer-qin", role="reviewer", note="PRIVATE approval note"), T0 + HOUR)
    m.fire_due(T0 + 200 * HOUR)  # warnings and breaches of every clock still running
    text = customer_progress(m.state, events_of(m), T0 + 200 * HOUR).model_dump_json()
    for hidden in ("lead-zhou", "agent-wu", "reviewer-qin", "SECRET", "INTERNAL", "PRIVATE", "supervisor",
                   "escalat", "breach", "warning", "assigned", "note", "level"):
        assert hidden not in text, hidden
    assert "We are checking your order." in text  # a reply addressed to the customer is theirs
    assert json.loads(text)["case_id"] == m.state.case_id
