"""The case workflow's business counters, through the SDK's replay-safe workflow meter.

`workflow.metric_meter()` records nothing while a workflow replays, so a case rebuilt from its
history after a cache eviction, a worker restart or a `Replayer` run counts nothing twice. The
meter adds the namespace, task queue and workflow type to every series; the labels of our own
come from `cases/views/metric_events.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

from temporalio import workflow
from temporalio.common import MetricCounter

with workflow.unsafe.imports_passed_through():
    from cases.models import CaseEvent
    from cases.views.metric_events import ACTIONS, COUNTERS, counts


class CaseMetrics:
    """Counters made once per workflow instance and reused for every batch of events."""

    def __init__(self) -> None:
        self._counters: dict[str, MetricCounter] = {}

    def _counter(self, name: str) -> MetricCounter:
        counter = self._counters.get(name)
        if counter is None:
            counter = workflow.metric_meter().create_counter(name, COUNTERS[name])
            self._counters[name] = counter
        return counter

    def events(self, events: Iterable[CaseEvent], tier: str) -> None:
        for count in counts(events, tier):
            self._counter(count.metric).add(1, count.labels)

    def action(self, action: str) -> None:
        self._counter(ACTIONS).add(1, {"action": action})
