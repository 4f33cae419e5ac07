"""The customer's view of their case (STANDARDS S13.3): plain words, the next step, who acts and
by when, the customer's own actions, and a public timeline with nothing internal in it."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from cases.actions.roles import Role
from cases.core.machine import CaseMachine
from cases.fulfilment.actions import (
    AgentReply,
    CustomerMessage,
    InspectionResult,
    ReturnReceived,
    ReturnShipped,
)
from cases.fulfilment.models import InspectionOutcome
from cases.models import (
    Acknowledge,
    Approve,
    Assign,
    CaseEvent,
    ClockName,
    Confirm,
    Dispute,
    Escalate,
    Note,
    ProposeResolution,
    Rate,
    Reject,
    RequestInfo,
    ResolutionType,
    Status,
    Withdraw,
)
from cases.policy.snapshot import Policy
from cases.views.progress import CustomerProgress, customer_progress
from tests.support.machine import DAY, HOUR, MINUTE, T0, executed, general, machine_in


def view(m: CaseMachine, at: datetime, language: str = "en") -> CustomerProgress:
    return customer_progress(m.state, list(m.events), at, language)


def titles(progress: CustomerProgress) -> list[str]:
    return [e.title for e in progress.timeline]


def detail(progress: CustomerProgress, title: str) -> str | None:
    return next(e.detail for e in progress.timeline if e.title == title)


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_words_in_both_languages(policy: Policy, status: Status) -> None:
    m, at = machine_in(policy, status)
    for language in ("en", "zh"):
        progress = view(m, at, language)
        assert progress.status == status and progress.headline and progress.next_step
        assert "{" not in progress.headline + progress.next_step  # every placeholder filled
        assert "—" not in progress.headline  # nothing the case should have had is missing
    assert view(m, at, "zh-CN").headline == view(m, at, "zh").headline
    assert view(m, at, "fr").headline == view(m, at, "en").headline


def test_a_refund_from_opening_to_closing(policy: Policy) -> None:
    m = general(policy)
    first_response = m.state.clocks[ClockName.FIRST_RESPONSE].due_at
    assert first_response is not None and first_response.date() != T0.date()
    opened = view(m, T0)
    assert opened.headline == (
        f"We have received your request and an agent will respond by {first_response:%Y-%m-%d %H:%M} UTC."
    )
    assert (opened.waiting_on, opened.next_deadline) == ("us", first_response)
    assert opened.actions_available == ["customer_message", "request_remedy"]
    assert [(e.title, e.detail) for e in opened.timeline] == [("Request received", "Order 8812")]
    # On the day itself the time alone is enough.
    assert view(m, first_response - HOUR).headline.endswith(f"respond by {first_response:%H:%M} UTC.")

    m.apply("acknowledge", Acknowledge(actor="agent-1"), T0 + MINUTE)
    m.apply("agent_reply", AgentReply(actor="agent-1", text="We are checking the listing."), T0 + 2 * MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.REFUND,
                                                    amount=Decimal("800")), T0 + 3 * MINUTE)
    review = view(m, T0 + 3 * MINUTE)
    assert review.headline == "We have proposed a refund of 800.00 CNY, and it is being reviewed."
    assert review.next_deadline == m.state.clocks[ClockName.RESOLUTION].due_at
    assert detail(review, "Reply from customer service") == "We are checking the listing."
    assert detail(review, "Solution proposed") == "refund of 800.00 CNY"

    m.apply("approve", Approve(actor="reviewer-1", role=Role.REVIEWER, note="ok by finance"), T0 + HOUR)
    paying = view(m, T0 + HOUR)
    assert paying.headline == "Your refund of 800.00 CNY has been approved and is being paid."
    assert (paying.waiting_on, paying.actions_available) == ("us", ["customer_message"])

    m.resolution_executed(executed(), T0 + HOUR + MINUTE)
    done = view(m, T0 + HOUR + MINUTE, "zh")
    assert done.headline == "您的退款（800.00 CNY）已完成（退款单号 refund-ref-1）。"
    assert (done.waiting_on, done.next_deadline) == ("customer", m.state.confirmation_due_at)
    assert done.actions_available == ["confirm", "customer_message", "dispute"]
    assert (done.timeline[-1].title, done.timeline[-1].detail) == (
        "方案已执行", "退款（800.00 CNY） · 退款单号 refund-ref-1"
    )

    m.apply("confirm", Confirm(), T0 + 2 * HOUR)
    rating = view(m, T0 + 2 * HOUR)
    assert rating.next_step.startswith("Please rate our service from 1 to 5 by ")
    assert (rating.next_deadline, rating.actions_available) == (m.state.survey_due_at, ["customer_message", "rate"])

    m.apply("rate", Rate(score=5, comment="quick"), T0 + 3 * HOUR)
    closed = view(m, T0 + 3 * HOUR)
    assert m.state.status == Status.CLOSED
    assert (closed.headline, closed.waiting_on, closed.next_deadline, closed.actions_available) == (
        "Your case is closed.", None, None, []
    )
    assert titles(closed) == [
        "Request received", "An agent responded", "Reply from customer service", "Solution proposed",
        "Solution approved", "Solution carried out", "You confirmed the result", "You rated our service",
        "Case closed",
    ]
    assert detail(closed, "You rated our service") == "5/5 · quick"


def test_a_return_waits_on_the_customer_then_on_us(policy: Policy) -> None:
    m = general(policy)
    m.apply("acknowledge", Acknowledge(actor="agent-1"), T0 + MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor="agent-1", type=ResolutionType.RETURN_REFUND,
                                                    amount=Decimal("300")), T0 + 2 * MINUTE)
    assert m.state.status == Status.AWAITING_RETURN and m.state.return_leg is not None
    rma, window = m.state.return_leg.rma, m.state.clocks[ClockName.RETURN_WINDOW].due_at
    waiting = view(m, T0 + 2 * MINUTE)
    assert waiting.headline == f"We are waiting for your return parcel (return number {rma})."
    assert waiting.next_step == (
        f"Please ship the item back by {window:%Y-%m-%d %H:%M} UTC, and tell us the carrier and tracking number."
    )
    assert (waiting.waiting_on, waiting.next_deadline) == ("customer", window)
    assert waiting.actions_available == ["customer_message"]  # shipping is reported by the carrier's side
    assert detail(waiting, "Return authorised") == rma

    m.apply("return_shipped", ReturnShipped(carrier="SF Express", tracking_number="SF1234567890"), T0 + DAY)
    on_the_way = view(m, T0 + DAY)
    assert on_the_way.headline == "Your return parcel is on its way to us."
    assert (on_the_way.waiting_on, on_the_way.next_deadline) == ("us", None)  # the carrier's time, not a promise
    assert detail(on_the_way, "Return shipped") == "SF Express · SF1234567890"

    m.apply("return_received", ReturnReceived(actor="wh-7", note="box dented, staff only"), T0 + 2 * DAY)
    inspecting = view(m, T0 + 2 * DAY)
    assert inspecting.next_deadline == m.state.clocks[ClockName.INSPECTION].due_at
    m.apply("inspection_result", InspectionResult(actor="wh-7", result=InspectionOutcome.PASSED,
                                                  notes="grade B, shelf 4"), T0 + 2 * DAY + HOUR)
    passed = view(m, T0 + 2 * DAY + HOUR)
    assert passed.headline == "Your return and refund of 300.00 CNY has been approved and is being paid."
    assert detail(passed, "Return inspected") == "passed"  # the warehouse's notes on a pass stay inside
    m.resolution_executed(executed(), T0 + 2 * DAY + 2 * HOUR)
    assert view(m, T0 + 2 * DAY + 2 * HOUR).status == Status.AWAITING_CONFIRMATION
    assert titles(view(m, T0 + 2 * DAY + 2 * HOUR))[-4:] == [
        "Return shipped", "Return received", "Return inspected", "Solution carried out",
    ]


def test_a_failed_inspection_tells_the_customer_why(policy: Policy) -> None:
    m, at = machine_in(policy, Status.INSPECTING)
    failed = InspectionResult(result=InspectionOutcome.FAILED, notes="water damage", evidence=["IMG-3"])
    m.apply("inspection_result", failed, at)
    assert detail(view(m, at), "Return inspected") == "did not pass · water damage"


def test_a_lapsed_return_and_a_dispute(policy: Policy) -> None:
    m, at = machine_in(policy, Status.LAPSED)
    lapsed = view(m, at)
    assert (lapsed.waiting_on, lapsed.next_deadline, lapsed.actions_available) == (None, None, [])
    assert titles(lapsed)[-1] == "Return window ended"

    m, at = machine_in(policy, Status.AWAITING_CONFIRMATION)
    m.apply("dispute", Dispute(reason="The refund never arrived"), at)
    disputed = view(m, at)
    assert disputed.status == Status.REGISTERED
    assert titles(disputed)[-2:] == ["You disputed the result", "We are looking at your case again"]
    assert detail(disputed, "You disputed the result") == "The refund never arrived"


def test_withdrawn_and_the_conversation(policy: Policy) -> None:
    m = general(policy)
    m.apply("request_info", RequestInfo(actor="agent-1", question="A photo of the label, please?"), T0 + MINUTE)
    asked = view(m, T0 + MINUTE)
    assert (asked.waiting_on, asked.next_deadline) == ("customer", None)  # the clocks wait for the answer
    assert detail(asked, "We asked for more information") == "A photo of the label, please?"
    m.apply("customer_message", CustomerMessage(text="Photo attached."), T0 + HOUR)
    answered = view(m, T0 + HOUR)
    assert answered.status == Status.ACKNOWLEDGED and answered.waiting_on == "us"
    assert answered.next_deadline == m.state.clocks[ClockName.NEXT_REPLY].due_at
    m.apply("withdraw", Withdraw(reason="bought elsewhere"), T0 + 2 * HOUR)
    gone = view(m, T0 + 2 * HOUR, "zh")
    assert (gone.headline, gone.actions_available, gone.next_deadline) == ("您的申请已撤回。", [], None)
    assert [(e.title, e.detail) for e in gone.timeline][-2:] == [("您的留言", "Photo attached."), ("申请已撤回", None)]


def test_a_deadline_already_past_is_not_shown(policy: Policy) -> None:
    m = general(policy)
    due = m.state.clocks[ClockName.FIRST_RESPONSE].due_at
    assert due is not None
    late = view(m, due + MINUTE)
    assert late.next_deadline is None
    assert late.headline == "We have received your request and an agent will respond."


def test_an_event_type_not_on_the_list_is_hidden(policy: Policy) -> None:
    m = general(policy)
    brand_new = CaseEvent(seq=99, type="fraud_score_computed", actor="risk-bot", at=T0, data={"text": "0.93"})
    progress = customer_progress(m.state, [*m.events, brand_new], T0)
    assert "0.93" not in progress.model_dump_json() and "risk-bot" not in progress.model_dump_json()


def test_nothing_internal_reaches_the_customer(policy: Policy) -> None:
    m = general(policy)
    m.apply("assign", Assign(actor="lead-zhou", handler="agent-wu", team="tier2-escalations"), T0 + MINUTE)
    m.apply("note", Note(actor="agent-wu", text="SECRET: customer sounds angry"), T0 + 2 * MINUTE)
    m.apply("agent_reply", AgentReply(actor="agent-wu", text="We are checking your order."), T0 + 3 * MINUTE)
    m.apply("escalate", Escalate(actor="lead-zhou", reason="INTERNAL escalation"), T0 + 4 * MINUTE)
    m.apply("propose_resolution", ProposeResolution(actor="agent-wu", type=ResolutionType.REFUND,
                                                    amount=Decimal("900"), note="HIDDEN proposal note"),
            T0 + 5 * MINUTE)
    m.apply("reject", Reject(actor="reviewer-qin", role=Role.REVIEWER, reason="CONFIDENTIAL too much"), T0 + HOUR)
    m.apply("propose_resolution", ProposeResolution(actor="agent-wu", type=ResolutionType.REFUND,
                                                    amount=Decimal("700")), T0 + HOUR + MINUTE)
    m.apply("approve", Approve(actor="reviewer-qin", role=Role.REVIEWER, note="PRIVATE approval note"), T0 + 2 * HOUR)
    m.resolution_executed(executed(), T0 + 3 * HOUR)
    m.apply("confirm", Confirm(), T0 + 4 * HOUR)
    m.apply("rate", Rate(score=1), T0 + 5 * HOUR)  # a low rating opens a quality review and escalates
    m.fire_due(T0 + 200 * HOUR)  # warnings and breaches of every clock still running
    types = {e.type for e in m.events}
    assert {"assigned", "note", "escalated", "rejected", "approved", "quality_review_opened"} <= types
    later = T0 + 200 * HOUR
    dumps = [customer_progress(m.state, list(m.events), later, lang).model_dump_json() for lang in ("en", "zh")]
    text = "\n".join(dumps)
    for hidden in ("lead-zhou", "agent-wu", "reviewer-qin", "tier2", "SECRET", "INTERNAL", "HIDDEN", "CONFIDENTIAL",
                   "PRIVATE", "reviewer", "supervisor", "escalat", "breach", "warning", "assigned", "note",
                   "level", "quality", "actor", "handler", "team", "clock"):
        assert hidden not in text, hidden
    assert "We are checking your order." in text  # a reply addressed to the customer is theirs
    assert json.loads(dumps[0])["case_id"] == m.state.case_id


def test_a_repair_names_its_visit_once_booked(policy: Policy) -> None:
    m, at = machine_in(policy, Status.REPAIRING)
    arranging = view(m, at)
    assert arranging.headline == "We are arranging your repair."
    assert arranging.next_deadline == m.state.clocks[ClockName.REPAIR].due_at
    job = m.state.repair
    assert job is not None
    visit = at + DAY
    assert m.repair_booked(job, "VISIT-42", visit, at)
    booked = view(m, at)
    assert booked.headline == f"Your repair is booked for {visit:%Y-%m-%d %H:%M} UTC."
    assert (booked.next_deadline, booked.waiting_on) == (visit, "us")
    assert detail(booked, "Repair booked") == f"{visit:%Y-%m-%d %H:%M} UTC · VISIT-42"
