"""What the Temporal UI shows of a case: its search attributes, upserted only where they changed.

`Visibility.changes` compares the case with what was last published and answers the upserts to
make, at most one command's worth per call; the workflow calls it once before each task ends.
Values the client gave at start count as published, so a new case's first task upserts only
what the worker decided differently.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from cases.models import CaseState
    from workflows import search_attributes as sa


def values_of(state: CaseState) -> dict[str, Any]:
    return {
        sa.CASE_TIER.name: state.tier.value,
        sa.CASE_STATUS.name: state.status.value,
        sa.CASE_CATEGORY.name: state.category.value,
        sa.CUSTOMER_TIER.name: state.intake.customer.tier.value,
        sa.ESCALATION_LEVEL.name: state.escalation_level,
        sa.SLA_STATE.name: state.sla_state,
        sa.SLA_DUE_AT.name: sa.next_due(state),
        sa.ORDER_ID.name: state.intake.order_id,
        sa.RETURN_TRACKING.name: state.return_leg.tracking_number if state.return_leg else None,
        sa.CASE_HANDLER.name: state.handler,
        sa.CASE_TEAM.name: state.team,
        sa.INTERVENTION_STAGE.name: int(state.intervention.stage) if state.intervention else None,
    }


class Visibility:
    def __init__(self) -> None:
        self._published: dict[str, Any] = {}
        self._given_at_start: set[str] = set()

    def seed_from_start(self, *, fresh: bool) -> None:
        """Take the attributes the run started with as already published.

        Only a fresh case's attributes were worked out by the client, and may differ from the
        workflow's own by the start's latency; a continued run carries the exact ones.
        """
        given = workflow.info().typed_search_attributes
        self._published = {k.name: given.get(k) for k in sa.PUBLISHED if given.get(k) is not None}
        self._given_at_start = set(self._published) if fresh else set()

    def changes(self, state: CaseState) -> list[SearchAttributeUpdate[Any]]:
        values = values_of(state)
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in sa.PUBLISHED:
            value = values[key.name]
            if value is None and key.name in sa.LATER and key.name not in self._published:
                continue
            if key.name in self._published:
                published = self._published[key.name]
                given_at_start = key.name in self._given_at_start
                if published == value:
                    continue
                if given_at_start and sa.same_value(key, published, value):
                    self._published[key.name] = value  # compare later changes with the exact one
                    continue
            self._given_at_start.discard(key.name)
            self._published[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))
        # The allowance is for the first task only; from here on every change is published.
        self._given_at_start.clear()
        return updates
