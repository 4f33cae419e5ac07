"""The search attributes that make cases filterable in the Temporal UI.

This is the single source: the dev-stack launcher registers them from here, the workflow upserts
them from here, and the compose stack's registration job is checked against this list.
"""

from temporalio.common import SearchAttributeKey

CASE_TIER = SearchAttributeKey.for_keyword("CaseTier")
CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
CUSTOMER_TIER = SearchAttributeKey.for_keyword("CustomerTier")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
SLA_DUE_AT = SearchAttributeKey.for_datetime("SlaDueAt")
ORDER_ID = SearchAttributeKey.for_keyword("OrderId")

ALL = (
    CASE_TIER,
    CASE_STATUS,
    CASE_CATEGORY,
    CUSTOMER_TIER,
    ESCALATION_LEVEL,
    SLA_STATE,
    SLA_DUE_AT,
    ORDER_ID,
)

# Names the `temporal` CLI uses for each indexed value type.
_CLI_TYPE = {"KEYWORD": "Keyword", "INT": "Int", "DATETIME": "Datetime"}


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags
