"""Who may do what: the roles an API key can hold, and the actions each role may send.

The HTTP API refuses an action whose role is not listed here (STANDARDS S13.1); the case itself
checks the four-eyes rule and the approval levels again, so a caller that skips the API cannot
approve its own proposal or above its authority.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SYSTEM = "system"  # order, warehouse and customer-app backends
    AGENT = "agent"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    WAREHOUSE = "warehouse"


R = Role
_STAFF = frozenset({R.AGENT, R.SUPERVISOR})
_ON_BEHALF_OF_CUSTOMER = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
_GOODS = frozenset({R.SYSTEM, R.WAREHOUSE, R.SUPERVISOR})

ACTION_ROLES: dict[str, frozenset[Role]] = {
    "acknowledge": _STAFF,
    "assign": _STAFF,
    "note": frozenset(Role),
    "request_info": _STAFF,
    "customer_reply": _ON_BEHALF_OF_CUSTOMER,
    "reclassify": _STAFF,
    "propose_resolution": _STAFF,
    "approve": frozenset({R.REVIEWER, R.SUPERVISOR}),
    "reject": frozenset({R.REVIEWER, R.SUPERVISOR}),
    "confirm": _ON_BEHALF_OF_CUSTOMER,
    "dispute": _ON_BEHALF_OF_CUSTOMER,
    "rate": _ON_BEHALF_OF_CUSTOMER,
    "follow_up_result": _STAFF,
    "escalate": frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR}),
    "withdraw": _ON_BEHALF_OF_CUSTOMER,
    "customer_message": _ON_BEHALF_OF_CUSTOMER,
    "agent_reply": _STAFF,
    "return_shipped": _GOODS,
    "return_received": _GOODS,
    "inspection_result": _GOODS,
    "repair_result": _GOODS,
}

# What a customer may do with the signed link to their own case, and nothing else.
CUSTOMER_ACTIONS = frozenset({"customer_message", "confirm", "dispute", "rate"})

# Opening cases and handing out customer links.
OPENERS = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
LINK_ISSUERS = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
# Reading cases, lists and timelines.
READERS = frozenset(Role)


def may(role: Role, action: str) -> bool:
    return role in ACTION_ROLES.get(action, frozenset())
