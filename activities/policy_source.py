"""PolicySource: hands each new case the policy in force, resolved for the case's dates.

The worker loads and validates the policy file once at start-up (a bad file stops it there).
Each case captures a snapshot through this activity at its start, so the snapshot lives in the
case's history and editing the file later never changes, or breaks the replay of, a running case.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from temporalio import activity

from activities.contracts import LoadPolicy
from cases.policy.snapshot import Policy, PolicySnapshot


class PolicySource:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._cache: dict[int, PolicySnapshot] = {}

    @activity.defn(name="load_policy")
    async def load(self, request: LoadPolicy) -> PolicySnapshot:
        # Snapshots differ only by the calendar years they cover, so one per year is enough.
        year = request.opened_at.astimezone(ZoneInfo(self._policy.calendar.timezone)).year
        if year not in self._cache:
            self._cache[year] = self._policy.snapshot(request.opened_at)
        return self._cache[year]
