"""Replay: histories/s and events/s replaying the end-to-end run's case histories with
`starter.replay.replay_histories` (the production Replayer: same sandbox, same converter), against
the baseline's histories replayed the same way. Each side is replayed `rounds` times,
alternating, and the best round counts (the least disturbed by other load).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable

from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from bench.baseline import NoopCase, NoopTimer
from bench.report import Report, progress
from starter.replay import replay_histories
from workflows.sandbox import workflow_runner


async def replay_baseline(
    histories: Iterable[WorkflowHistory], converter: DataConverter
) -> list[bool]:
    """`replay_histories` for the no-op workflows: same runner, converter and iterator."""
    replayer = Replayer(
        workflows=[NoopCase, NoopTimer], data_converter=converter, workflow_runner=workflow_runner()
    )

    async def each() -> AsyncIterator[WorkflowHistory]:
        for history in histories:
            yield history

    ok: list[bool] = []
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            ok.append(result.replay_failure is None)
    return ok


async def measure(
    rep: Report,
    real: list[WorkflowHistory],
    baseline: list[WorkflowHistory],
    converter: DataConverter,
    rounds: int = 2,
) -> None:
    section = f"4. replay ({len(real)} case histories from the end-to-end run)"
    best_real = best_base = float("inf")
    failures: list[str] = []
    for n in range(rounds):
        t0 = time.perf_counter()
        outcomes = await replay_histories(real, converter)
        best_real = min(best_real, time.perf_counter() - t0)
        failures += [f"{o.workflow_id}: {o.error}" for o in outcomes if not o.ok]
        t0 = time.perf_counter()
        ok = await replay_baseline(baseline, converter)
        best_base = min(best_base, time.perf_counter() - t0)
        failures += [f"baseline #{i}" for i, good in enumerate(ok) if not good]
        progress(f"  round {n + 1}: real {best_real:.2f}s, baseline {best_base:.2f}s (best so far)")
    events_r = sum(len(h.events) for h in real)
    events_b = sum(len(h.events) for h in baseline)
    rep.add(
        section,
        "histories/s",
        len(real) / best_real,
        len(baseline) / best_base,
        "histories/s",
        "{:.1f}",
    )
    rep.add(section, "events/s", events_r / best_real, events_b / best_base, "events/s", "{:.0f}")
    rep.add(
        section,
        "time per history",
        best_real / len(real) * 1000,
        best_base / len(baseline) * 1000,
        "ms",
        "{:.1f}",
    )
    rep.add(
        section, "events per history", events_r / len(real), events_b / len(baseline), "", "{:.1f}"
    )
    if failures:
        rep.note(section, f"REPLAY FAILURES: {len(failures)}: {failures[:3]}")
    else:
        rep.note(
            section, f"every history replayed without error ({rounds} rounds each, best round)"
        )
