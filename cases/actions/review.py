"""Who may approve or reject a proposal (STANDARDS S3.3, S13.2): a reviewer or supervisor, within
the amount their role may approve, and never the person who proposed it.

Checked by the case itself, in the update validator and again when the action is applied, so a
caller that skips the HTTP API cannot approve its own refund or above its authority. Cases whose
policy snapshot predates approval levels keep the rules they started with, so their recorded
histories replay unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from cases.actions.roles import Role
from cases.core.moves import CaseCore, NotAuthorized
from cases.models import Approve, Reject

REVIEWERS = (Role.REVIEWER, Role.SUPERVISOR)


def check_approve(m: CaseCore, data: Approve) -> None:
    levels = m.policy.approval_levels
    if levels is None:
        return
    role = _reviewing_role("approve", data.role, levels)
    proposal = m.state.proposal
    if proposal is None:
        return
    if data.actor == proposal.proposed_by:
        raise NotAuthorized(
            f"approve: {data.actor} proposed this resolution and cannot approve it (four-eyes, STANDARDS S3.3)"
        )
    limit = levels[role.value]
    if limit is not None and proposal.amount > limit:
        currency = m.state.intake.currency
        able = [r.value for r in REVIEWERS if r != role and r.value in levels and _within(proposal.amount, levels[r])]
        who = f"; a {able[0]} must approve it" if able else ""
        raise NotAuthorized(
            f"approve: {proposal.amount} {currency} is over the {limit} {currency} a {role.value} may approve{who}"
        )


def check_reject(m: CaseCore, data: Reject) -> None:
    # A proposer withdrawing their own proposal by rejecting it moves no money, so only the role
    # is required.
    if m.policy.approval_levels is not None:
        _reviewing_role("reject", data.role, m.policy.approval_levels)


def _within(amount: Decimal, limit: Decimal | None) -> bool:
    return limit is None or amount <= limit


def _reviewing_role(action: str, role: Role | None, levels: Mapping[str, Decimal | None]) -> Role:
    allowed = [r for r in REVIEWERS if r.value in levels]
    if role is None or role not in allowed:
        given = f", not {role.value}" if role is not None else ""
        raise NotAuthorized(f"{action}.role: required: {' or '.join(r.value for r in allowed)}{given}")
    return role
