"""The customer's personal data as a merchant's staff see it: masked (`张*`, `139****0000`).

A merchant reaches its customer through the engine's notifications, so its staff never need the
clear values; platform roles read them, and each such read is logged (starter/api/scope.py).
"""

from __future__ import annotations

from cases.models import CaseState, Customer

# The customer's fields that identify a person; everything else about the case is the merchant's.
PERSONAL_FIELDS = ("name", "phone", "email")
_KEPT_DIGITS_END = 4
_MASK = "****"


def mask_name(name: str) -> str:
    """The first character, then one star for each other: `张伟` → `张*`."""
    return name[:1] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """The last four characters and what comes before the middle four: `13912340000` →
    `139****0000`, `+8613912340000` → `+86139****0000`."""
    if len(phone) <= len(_MASK) + _KEPT_DIGITS_END:
        return _MASK + phone[-2:]
    head = len(phone) - len(_MASK) - _KEPT_DIGITS_END
    return phone[:head] + _MASK + phone[-_KEPT_DIGITS_END:]


def mask_email(email: str) -> str:
    """The first character of the mailbox and the domain: `li.wei@example.com` → `l*****@example.com`."""
    local, _, domain = email.rpartition("@")
    return mask_name(local) + "@" + domain


def personal_fields(customer: Customer) -> list[str]:
    """The personal fields this customer has a value for."""
    return [f for f in PERSONAL_FIELDS if getattr(customer, f) is not None]


def masked_customer(customer: Customer) -> Customer:
    return customer.model_copy(
        update={
            "name": mask_name(customer.name) if customer.name else None,
            "phone": mask_phone(customer.phone) if customer.phone else None,
            "email": mask_email(customer.email) if customer.email else None,
        }
    )


def masked(state: CaseState) -> CaseState:
    """The state with the customer's personal fields masked; nothing else changes."""
    intake = state.intake.model_copy(update={"customer": masked_customer(state.intake.customer)})
    return state.model_copy(update={"intake": intake})
