"""The search attributes that make cases filterable in the Temporal UI.

This is the single source: the workflow upserts them from here, `runtime/search_attribute_setup.py`
adds them to a namespace (the compose stack's setup job, the test servers), and the dev-stack
launcher passes `cli_flags()` to `temporal server start-dev`. Only what workflow code may run
lives here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.common import SearchAttributeKey

from cases.models import CaseState

CASE_TIER = SearchAttributeKey.for_keyword("CaseTier")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
# The customer's return parcel, so the warehouse can find the case a parcel belongs to.
RETURN_TRACKING = SearchAttributeKey.for_keyword("ReturnTracking")
# Who holds the case and which team's queue it is in (unset handler with a team: waiting).
CASE_HANDLER = SearchAttributeKey.for_keyword("CaseHandler")
CASE_TEAM = SearchAttributeKey.for_keyword("CaseTeam")
# The merchant the case belongs to. The tenth and last Keyword attribute that PostgreSQL
# visibility allows a namespace: a later attribute is an Int or a Datetime, or a column of the
# case's PostgreSQL row.
MERCHANT_ID = SearchAttributeKey.for_keyword("MerchantId")
# The platform's intervention (cases/intervention/models.py `Stage`): 1 evidence ... 8 closed.
INTERVENTION_STAGE = SearchAttributeKey.for_int("InterventionStage")

# What the workflow keeps current; each changes with the case.
PUBLISHED = (
    CASE_TIER,
    CASE_STATUS,
    CASE_CATEGORY,
    CUSTOMER_TIER,
    ESCALATION_LEVEL,
    SLA_STATE,
    SLA_DUE_AT,
    ORDER_ID,
    RETURN_TRACKING,
    CASE_HANDLER,
    CASE_TEAM,
    INTERVENTION_STAGE,
)
# Every attribute a namespace needs. The merchant is given at start and never changes, so the
# workflow never upserts it, and a continued run inherits it.
ALL = (*PUBLISHED, MERCHANT_ID)
# Attributes added after cases were already running: absent and unset mean the same, so a case
# that never has a value never upserts one (an older history replays unchanged).
LATER = frozenset({RETURN_TRACKING.name, CASE_HANDLER.name, CASE_TEAM.name, INTERVENTION_STAGE.name})


def next_due(state: CaseState) -> datetime | None:
    """The `SlaDueAt` value: the earliest due time of the case's clocks."""
    return state.due_at


_START_SKEW = timedelta(minutes=1)


def same_value(key: SearchAttributeKey[Any], published: Any, value: Any) -> bool:
    """Whether `value` needs no upsert over `published`, a value the client gave at start.

    A due time given at start was worked out on the client a moment before the workflow opened
    the case; within a minute it is the same due time, and the first change after the first
    task publishes the exact one.
    """
    if key.name == SLA_DUE_AT.name and isinstance(published, datetime) and isinstance(value, datetime):
        return abs(published - value) <= _START_SKEW
    return bool(published == value)


# Names the `temporal` CLI uses for each indexed value type.
_CLI_TYPE = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime"}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags
