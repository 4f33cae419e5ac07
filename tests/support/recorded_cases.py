"""A past case as the record holds it, built by the case machine: its `cases` row and its
`case_events` rows, for the tests that read the record (the what-if, the reports)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from activities.record_input import case_row, clock_row
from cases.actions.registry import ACTION_MODELS
from cases.core.machine import CaseMachine
from cases.ids import DEFAULT_MERCHANT
from cases.policy.snapshot import load_policy
from tests.support.factories import intake

POLICY = load_policy(None)
CASE_COLUMNS = (
    "case_id", "workflow_id", "order_id", "customer_id", "customer_tier", "channel", "category",
    "tier", "status", "escalation_level", "order_amount", "currency", "opened_at",
    "reopen_count", "escalations", "sla_state", "last_seq", "state",
)
Row = tuple[Any, ...]


def recorded_case(
    case_id: str,
    opened: datetime,
    *,
    merchant: str = DEFAULT_MERCHANT,
    answer_after: int = 5,
    withdraw_after: int = 9,
) -> tuple[Row, list[Row]]:
    """A case acknowledged after `answer_after` minutes and withdrawn after `withdraw_after`."""
    case = intake(case_id=case_id, merchant_id=merchant)
    m = CaseMachine.open(case.key, case, POLICY.snapshot(opened), opened)
    for minutes, action, data in ((answer_after, "acknowledge", {"actor": "agent-1"}),
                                  (withdraw_after, "withdraw", {"reason": "fixed"})):
        at = opened + timedelta(minutes=minutes)
        m.fire_due(at)
        m.apply(action, ACTION_MODELS[action].model_validate(data), at)
    s, i = m.state, m.state.intake
    row = (s.case_id, s.workflow_id, i.order_id, i.customer.id, i.customer.tier.value,
           i.channel.value, s.category.value, s.tier.value, s.status.value, s.escalation_level,
           i.order_amount, i.currency, s.opened_at, s.reopen_count, s.escalations, s.sla_state,
           s.last_seq, s.model_dump_json())
    events = [(s.case_id, e.seq, e.type, e.actor, e.at, json.dumps(e.model_dump(mode="json")["data"]))
              for e in m.events]
    return row, events


_EVENT = "INSERT INTO case_events (case_id, seq, type, actor, at, data) VALUES ($1, $2, $3, $4, $5, $6::jsonb)"


async def insert_machine_case(conn: asyncpg.Connection, m: CaseMachine) -> None:
    """The rows the projection would write for a case driven on the pure machine, built by the
    projection's own row builders."""
    state = m.state
    row = case_row(state, state.model_dump(mode="json"))
    columns = ", ".join(row)
    await conn.execute(
        f"INSERT INTO cases ({columns}, state) SELECT {columns}, '{{}}'::jsonb "
        "FROM jsonb_populate_record(NULL::cases, $1::jsonb)",
        json.dumps(row),
    )
    await conn.executemany(
        _EVENT,
        [(state.case_id, e.seq, e.type, e.actor, e.at,
          json.dumps(e.model_dump(mode="json")["data"])) for e in m.events],
    )
    clocks = [clock_row(state.reopen_count, c.model_dump(mode="json"))
              for c in state.clocks.values()]
    clocks += [clock_row(r.round, r.clock.model_dump(mode="json")) for r in m.retired_clocks]
    await conn.executemany(
        "INSERT INTO sla_clocks SELECT * FROM jsonb_populate_record(NULL::sla_clocks, $1::jsonb)",
        [(json.dumps({"case_id": state.case_id, **clock}),) for clock in clocks],
    )
