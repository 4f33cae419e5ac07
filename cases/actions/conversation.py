"""The conversation with the customer: agent replies, customer messages, and the next-reply clock.

The next-reply clock (STANDARDS S11.2) is owed from the customer's oldest unanswered message:
- it starts at a customer message when no reply is owed, and a second message while it runs
  does not restart it (the customer has waited since the first);
- an agent reply meets it, and the next customer message starts a new turn of it;
- like every clock it stops counting while the case waits on the customer (`request_info`),
  and a message from the customer starts it counting again;
- it warns and breaches like every clock, and a breach escalates.
The first response stays its own clock; an agent reply also meets it while it runs.
"""

from __future__ import annotations

from datetime import datetime

from cases.clocks import sla
from cases.core.moves import CaseCore
from cases.fulfilment.actions import AgentReply, CustomerMessage
from cases.models import ClockName, Status


def agent_reply(m: CaseCore, data: AgentReply, now: datetime) -> None:
    state = m.state
    m.emit("agent_replied", data.actor, now, text=data.text)
    m.first_response(now)
    m.meet(ClockName.NEXT_REPLY, now)
    if state.status == Status.REGISTERED:
        state.status = Status.ACKNOWLEDGED
        state.handler = state.handler or data.actor
    m.notify_customer("agent_reply", now, "A reply about your case", data.text)


def customer_message(m: CaseCore, data: CustomerMessage, now: datetime) -> None:
    state = m.state
    m.emit("customer_message", data.actor, now, text=data.text)
    if state.status == Status.AWAITING_CUSTOMER:
        # The answer the case was waiting for, however the customer's app sends it.
        state.status = Status.ACKNOWLEDGED
        m.resume_clocks(now)
    reply_owed(m, now)


def reply_owed(m: CaseCore, now: datetime) -> None:
    """A customer message: start the next-reply clock, or let the one already owed count on."""
    state = m.state
    clock = state.clocks.get(ClockName.NEXT_REPLY)
    if clock is not None and sla.is_open(clock):
        if clock.paused_at is not None:
            m.resume(clock, now)
        return
    m.start_clock(ClockName.NEXT_REPLY, now)  # a new turn; the answered one is kept
