"""PolicySource: hands each new case the policy in force, resolved for the case's dates.

The worker loads and validates the platform's policy file once at start-up (a bad file stops it
there). A merchant's own policy (`aftersales merchants policy`) is read when its case opens and
laid over the platform's (cases/policy/merchant.py). Each case captures a snapshot through this
activity at its start, so the snapshot lives in the case's history and editing either file later
never changes, or breaks the replay of, a running case.
"""

from __future__ import annotations

import hashlib
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog
from temporalio import activity

from activities.contracts import LoadPolicy
from cases.ids import DEFAULT_MERCHANT
from cases.policy.merchant import merged_within_floor, parse_overlay
from cases.policy.snapshot import Policy, PolicyError, PolicySnapshot

log = structlog.get_logger("aftersales.policy")


class MerchantPolicies(Protocol):
    async def policy_text(self, merchant_id: str) -> str | None:
        """The merchant's own policy file, or None when it keeps the platform's."""


class NoMerchantPolicies:
    """Every merchant keeps the platform's policy (workflow tests, single-merchant installs)."""

    async def policy_text(self, merchant_id: str) -> str | None:
        return None


class PolicySource:
    def __init__(self, policy: Policy, merchants: MerchantPolicies | None = None) -> None:
        self._policy = policy
        self._merchants = merchants or NoMerchantPolicies()
        self._cache: dict[tuple[str, int], PolicySnapshot] = {}

    @activity.defn(name="load_policy")
    async def load(self, request: LoadPolicy) -> PolicySnapshot:
        text = None
        if request.merchant_id != DEFAULT_MERCHANT:
            text = await self._merchants.policy_text(request.merchant_id)
        # Snapshots differ only by the policy and the calendar years they cover, so one per
        # policy text and year is enough.
        year = request.opened_at.astimezone(ZoneInfo(self._policy.calendar.timezone)).year
        version = hashlib.blake2b(text.encode(), digest_size=8).hexdigest() if text else ""
        key = (version, year)
        if key not in self._cache:
            self._cache[key] = self._resolve(request, text).snapshot(request.opened_at)
        return self._cache[key]

    def _resolve(self, request: LoadPolicy, text: str | None) -> Policy:
        if text is None:
            return self._policy
        try:
            policy, refused = merged_within_floor(self._policy, parse_overlay(text))
        except PolicyError as err:
            # Checked when it was stored; a file the platform's own can no longer carry opens the
            # case on the platform's policy rather than never.
            log.error("merchant policy unusable", merchant_id=request.merchant_id, error=str(err))
            return self._policy
        for key, why in refused.items():
            # The platform tightened under a stored merchant policy: the case opens on the floor.
            log.warning("merchant policy key refused", merchant_id=request.merchant_id, key=key, why=why)
        return policy
