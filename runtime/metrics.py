"""The worker's Prometheus endpoint: the SDK's runtime metrics and the engine's business metrics.

One Temporal `Runtime` per process serves `/metrics` on AFTERSALES_METRICS_PORT. The SDK puts
its own series there (task slots, poll and schedule-to-start latencies, request failures); the
case workflow adds its counters through the replay-safe workflow meter; and `OpenCaseGauges`
sets gauges of what is open now, read from the PostgreSQL projection every few seconds. Counters
cannot say what is open now, and a workflow cannot see other cases, so the projection does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
from temporalio.common import MetricGaugeFloat, MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from cases.models import FINAL_STATUSES, Status
from runtime.errors import UserError
from runtime.log import get_logger

OPEN_CASES = "aftersales_open_cases"
QUEUE_WAITING = "aftersales_queue_waiting"
QUEUE_OLDEST = "aftersales_queue_oldest_seconds"
REFRESHED = "aftersales_gauges_refreshed_seconds"

GAUGES: dict[str, str] = {
    OPEN_CASES: "Cases open now, by status and SLA state (from the record)",
    QUEUE_WAITING: "Cases waiting in a team's queue for a free agent, by team",
    QUEUE_OLDEST: "How long the longest-waiting case in a team's queue has waited, by team",
}

# Named by inclusion, so the lookup can use the status index instead of reading every case.
_OPEN_BY_STATE = """
SELECT status, sla_state, count(*) AS n
FROM cases
WHERE status = ANY($1::text[])
GROUP BY status, sla_state
"""
_OPEN = sorted(s.value for s in Status if s not in FINAL_STATUSES)

_QUEUES = """
SELECT team, count(*) AS n, coalesce(extract(epoch FROM now() - min(queued_at)), 0) AS oldest
FROM case_routing
WHERE status = 'queued'
GROUP BY team
"""

log = get_logger("aftersales.metrics")


def metrics_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A runtime whose metrics are served for Prometheus on `host:port`."""
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=f"{host}:{port}",
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )
    except Exception as err:  # the core raises a plain RuntimeError when it cannot bind
        raise UserError(f"AFTERSALES_METRICS_PORT {port}: cannot serve metrics there ({err})") from None


class OpenCaseGauges:
    """Sets the open-case and queue gauges from the projection, every `interval` seconds.

    Every worker of a deployment reports the same figures, so dashboards take `max` across
    instances. A series that empties is set to 0 rather than dropped, so a graph falls to zero
    instead of stopping at its last value.
    """

    def __init__(self, pool: asyncpg.Pool, meter: MetricMeter, interval: float = 15.0) -> None:
        self._pool = pool
        self._interval = interval
        self._gauges: dict[str, MetricGaugeFloat] = {
            name: meter.create_gauge_float(name, description) for name, description in GAUGES.items()
        }
        self._seen: dict[str, set[tuple[tuple[str, str], ...]]] = {name: set() for name in GAUGES}
        self._refreshed = meter.create_gauge_float(REFRESHED, "When the open-case gauges were last read (Unix time)")

    async def refresh(self) -> None:
        async with self._pool.acquire() as conn:
            open_rows = await conn.fetch(_OPEN_BY_STATE, _OPEN)
            queue_rows = await conn.fetch(_QUEUES)
        self._set(OPEN_CASES, {
            (("status", r["status"]), ("sla_state", r["sla_state"])): float(r["n"]) for r in open_rows
        })
        self._set(QUEUE_WAITING, {(("team", r["team"]),): float(r["n"]) for r in queue_rows})
        self._set(QUEUE_OLDEST, {(("team", r["team"]),): float(r["oldest"]) for r in queue_rows})

    def _set(self, name: str, values: dict[tuple[tuple[str, str], ...], float]) -> None:
        gauge = self._gauges[name]
        for labels in self._seen[name] - set(values):
            gauge.set(0.0, dict(labels))
        for labels, value in values.items():
            gauge.set(value, dict(labels))
        self._seen[name] |= set(values)

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as err:
                # The record being away for a moment (or anything else going wrong here) must
                # not stop the worker; the gauges keep their last values until a refresh works,
                # and `aftersales_gauges_refreshed_seconds` shows how old they are.
                log.warning("open-case gauges not refreshed", error=type(err).__name__)
            else:
                self._refreshed.set(time.time())
            await asyncio.sleep(self._interval)


@contextlib.asynccontextmanager
async def gauging(gauges: OpenCaseGauges | None) -> AsyncIterator[None]:
    """Keep `gauges` fresh in the background while the body runs (nothing when None)."""
    if gauges is None:
        yield
        return
    task = asyncio.create_task(gauges.run(), name="open-case-gauges")
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as err:  # a gauge must never turn a clean shutdown into a failed one
            log.warning("open-case gauges stopped", error=type(err).__name__)
