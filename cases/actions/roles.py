"""Who may do what: the roles an API key can hold, and the groups of them the actions name.

Each action's spec (`registry`) says which roles may send it; the HTTP API refuses the others
(STANDARDS S13.1). The case itself checks the four-eyes rule and the approval levels again, so a
caller that skips the API cannot approve its own proposal or above its authority.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SYSTEM = "system"  # order, warehouse and customer-app backends
    AGENT = "agent"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    WAREHOUSE = "warehouse"
    # The platform's: hears an intervention and rules (STANDARDS S16.3).
    ARBITER = "arbiter"


R = Role
EVERYONE = frozenset(Role)
STAFF = frozenset({R.AGENT, R.SUPERVISOR})
ON_BEHALF_OF_CUSTOMER = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
REVIEWERS = frozenset({R.REVIEWER, R.SUPERVISOR})
ARBITERS = frozenset({R.ARBITER})
# Warehouses, carriers and field service report on the goods.
GOODS = frozenset({R.SYSTEM, R.WAREHOUSE, R.SUPERVISOR})

# Opening cases and handing out customer links.
OPENERS = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
LINK_ISSUERS = frozenset({R.SYSTEM, R.AGENT, R.SUPERVISOR})
# Reading cases, lists and timelines.
READERS = EVERYONE
