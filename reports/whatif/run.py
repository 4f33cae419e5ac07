"""The what-if from the record to its figures: `build_whatif`, and `replay_case` for one case.

Each case is replayed under the candidate policy's snapshot for its opening instant, compared
with its record, and both sides are counted into one `WhatIf`. The snapshot depends only on the
opening year in the business time zone (`Policy.snapshot` resolves the calendar for the years
around it), so one snapshot per year serves every case, as one shared snapshot serves every case
a worker holds. A case whose replay fails is left out of both sides and counted only as failed,
like a case whose record cannot be read: the two sides always hold the same cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg

from cases.ids import split_case_key
from cases.policy.snapshot import Policy, PolicySnapshot
from reports.whatif.compare import differences, outcome_changed
from reports.whatif.figures import MAX_EXAMPLES, Tally, WhatIf
from reports.whatif.query import ALL, Shard, Unreadable, count_cases, recorded_cases
from reports.whatif.replay import Replayed, describe_error, replay
from reports.whatif.timeline import Timeline

Progress = Callable[[int, int], None]


class Snapshots:
    """`policy.snapshot(opened_at)`, resolved once per opening year (the year `Policy.snapshot`
    itself resolves by: in the business time zone, not UTC)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._zone = ZoneInfo(policy.calendar.timezone)
        self._by_year: dict[int, PolicySnapshot] = {}

    def __call__(self, opened_at: datetime) -> PolicySnapshot:
        year = opened_at.astimezone(self._zone).year
        found = self._by_year.get(year)
        if found is None:
            found = self._by_year[year] = self.policy.snapshot(opened_at)
        return found


def replay_case(timeline: Timeline, snapshots: Snapshots) -> tuple[Replayed, list[str]]:
    """One case replayed under the candidate, with where it departs from its record."""
    try:
        snapshot = snapshots(timeline.opened_at)
    except Exception as err:  # noqa: BLE001 - a calendar the candidate cannot resolve for this case
        replayed = Replayed(events=[], final=timeline.final,
                            error=f"{describe_error(err)} resolving the candidate policy")
    else:
        replayed = replay(timeline, snapshot)
    return replayed, differences(timeline, replayed)


def count_failed(report: WhatIf, line: str) -> None:
    """A case left out of both sides: its record could not be read or its replay failed."""
    report.counts.failed_cases += 1
    if len(report.counts.examples) < MAX_EXAMPLES:
        report.counts.examples.append(line)


def count_into(tally: Tally, timeline: Timeline, replayed: Replayed, diffs: list[str]) -> None:
    """Both sides of one case, and how its replay went, into `tally`; a failed replay only as
    failed (half a replay on one side would count cases the other side does not hold)."""
    if replayed.error is not None:
        count_failed(tally.report, diffs[0] if diffs else f"{timeline.case_id}: replay failed")
        return
    tally.add(
        (timeline.final.tier.value, [(e.type, e.data) for e in timeline.recorded]),
        (replayed.final.tier.value, [(e.type, e.data) for e in replayed.events]),
        # The key names the merchant, as it does for `cases.merchant_id`.
        merchant=split_case_key(timeline.case_id)[0],
    )
    tally.counts(
        actions=replayed.actions,
        refused=replayed.refused,
        after_deadline=replayed.after_deadline,
        results_skipped=replayed.results_skipped,
        unmapped=timeline.unmapped,
        differences=diffs,
        outcome_changed=bool(diffs) and outcome_changed(timeline, replayed),
        retried_opening=timeline.stale_opening > 0,
        amended=timeline.amendments > 0,
    )


async def build_whatif(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    policy: Policy,
    policy_name: str,
    progress: Progress | None = None,
    shard: Shard = ALL,
    as_of: datetime | None = None,
    case_ids: Sequence[str] | None = None,
) -> WhatIf:
    """Replay every case opened in [since, until) (of `shard`, and among `case_ids` when given)
    under `policy`, beside what happened. `progress` hears (cases done, cases in all) after
    each batch."""
    started = time.perf_counter()
    as_of = as_of or datetime.now(UTC)
    report = WhatIf(since=since, until=until, generated_at=as_of, policy=policy_name)
    tally = Tally(report)
    snapshots = Snapshots(policy)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        total = await count_cases(conn, since, until, shard, case_ids)
        done = 0
        async for batch in recorded_cases(conn, since, until, as_of, shard=shard, case_ids=case_ids):
            for item in batch:
                if isinstance(item, Unreadable):
                    count_failed(report, f"{item}: not replayed")
                    continue
                replayed, diffs = replay_case(item, snapshots)
                count_into(tally, item, replayed, diffs)
            done += len(batch)
            if progress is not None:
                progress(done, total)
    return tally.finish(time.perf_counter() - started)
