"""Before/after: the same benchmarks against this checkout (A) and another copy of the code (B).

    python -m bench.compare --with /tmp/experiment [--cases 100] [--latency-samples 100]
                            [--memory-cases 500] [--only e2e,replay,latency,breach,memory]

Both sides run real workers (each from its own folder) against one dev server and one
PostgreSQL, in alternating order (A B B A), so load on the machine weighs on both alike. The
clients come from this checkout, so B must keep the workflow type, update names and input
models. Replay runs each side's own code in a subprocess over the same kind of histories.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from bench.breach import short_policy
from bench.drivers import RealTarget, closed_loop
from bench.e2e import fetch_histories
from bench.env import ROOT, TEST_CODEC_KEYS, BenchEnv, WorkerProcess, cpu_delta
from bench.memory import _open_all, _settled_real, _start_real
from bench.plan import mean_shape, shape_of
from bench.procstat import memory_kb
from bench.report import Report, percentile, progress
from cases.ids import workflow_id_for
from cases.policy.snapshot import Policy, load_policy

_REPLAY = """
import asyncio, json, sys, time
from pathlib import Path
from typing import Any
from starter.replay import load_history_file, replay_histories
from workflows.codec import parse_keys
from workflows.converter import data_converter
histories = [load_history_file(p) for p in sorted(Path(sys.argv[1]).glob("*.json"))]
converter = data_converter(parse_keys(sys.argv[2]))
best = float("inf")
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    outcomes = asyncio.run(replay_histories(histories, converter))
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "ok": all(o.ok for o in outcomes), "n": len(histories),
                  "events": sum(len(h.events) for h in histories)}))
"""


async def _replay(env: BenchEnv, root: Path, folder: Path, rounds: int) -> dict[str, float]:
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    proc_env |= {"PYTHONPATH": str(root), "PYTHONPYCACHEPREFIX": str(env.pycache)}
    proc_env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _REPLAY,
        str(folder),
        TEST_CODEC_KEYS,
        str(rounds),
        cwd=root,
        env=proc_env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


@dataclass
class Bench:
    """Both sides, as every section of the comparison needs them."""

    args: argparse.Namespace
    env: BenchEnv
    sides: dict[str, Path]
    workers: dict[str, WorkerProcess]
    targets: dict[str, RealTarget]
    policy: Policy
    rep: Report = field(default_factory=Report)

    def add(self, figure: str, values: dict[str, float], unit: str, fmt: str = "{:.2f}") -> None:
        """B in the 'real' column, A in the 'baseline' column."""
        self.rep.add(SECTION, figure, values["B"], values["A"], unit, fmt)


SECTION = "before (A) / after (B)"


async def run(args: argparse.Namespace) -> None:
    sides = {"A": ROOT, "B": args.other.resolve()}
    only = args.only.split(",")
    env = BenchEnv()
    policy = load_policy(None)
    print(f"A = {sides['A']}\nB = {sides['B']}")
    try:
        await env.start()
        workers = {
            side: await WorkerProcess(
                env, "real", env.task_queue(f"cmp{side}"), root=root, name=f"cmp-{side}"
            ).start()
            for side, root in sides.items()
        }
        targets = {side: RealTarget(env.client, w.task_queue, policy) for side, w in workers.items()}
        bench = Bench(args, env, sides, workers, targets, policy)
        for side in sides:  # warm-up: every worker has run each code path once
            await closed_loop(targets[side], [f"warm{side}-{env.run_id}-{i}" for i in range(4)], 4)
        if "e2e" in only:
            histories = await _e2e(bench)
            if "replay" in only:
                await _replay_section(bench, histories)
        if "latency" in only:
            await _latency(bench)
        if "breach" in only:
            await _breach(bench)
        if "memory" in only:
            await _memory(bench)
        bench.rep.note(SECTION, "columns: 'real' is B (the changed copy), 'baseline' is A (this checkout)")
    finally:
        await env.close()
    print(bench.rep.render())


async def _e2e(bench: Bench) -> dict[str, list[WorkflowHistory]]:
    """Closed-loop cases in the order A B B A, so load on the machine weighs on both alike."""
    args, env = bench.args, bench.env
    half = args.cases // 2
    ids = {s: [f"cmp{s}-{env.run_id}-{i:04d}" for i in range(args.cases)] for s in bench.sides}
    seconds = {s: 0.0 for s in bench.sides}
    cpu = {s: {"worker": 0.0, "temporal": 0.0, "postgres": 0.0, "client": 0.0} for s in bench.sides}
    for side, chunk in (("A", 0), ("B", 0), ("B", 1), ("A", 1)):
        part = ids[side][chunk * half : (chunk + 1) * half]
        before = env.cpu_snapshot([bench.workers[side]])
        result = await closed_loop(bench.targets[side], part, args.concurrency)
        for k, v in cpu_delta(before, env.cpu_snapshot([bench.workers[side]])).items():
            cpu[side][k] += v
        seconds[side] += result.seconds
        if result.errors:
            raise RuntimeError(f"{side}: {result.errors[:3]}")
        progress(f"  {side}: {len(part)} cases in {result.seconds:.1f}s")
    n = 2 * half
    bench.add("e2e throughput (B vs A)", {s: n / seconds[s] for s in bench.sides}, "cases/s")
    for k in ("worker", "temporal", "postgres"):
        bench.add(f"CPU {k} / case", {s: cpu[s][k] / n * 1000 for s in bench.sides}, "ms", "{:.1f}")
    histories = {
        s: await fetch_histories(env.client, [workflow_id_for(i) for i in ids[s][:n]]) for s in bench.sides
    }
    shapes = {s: mean_shape(shape_of(h.events) for h in histories[s]) for s in bench.sides}
    for k in ("events", "activities", "local_activities", "workflow_tasks"):
        bench.add(f"{k} / case", {s: shapes[s][k] for s in bench.sides}, "", "{:.1f}")
    bench.add("history KiB / case", {s: shapes[s]["history_bytes"] / 1024 for s in bench.sides}, "KiB", "{:.1f}")
    return histories


async def _replay_section(bench: Bench, histories: dict[str, list[WorkflowHistory]]) -> None:
    """Each side's own code replays the histories its own workers wrote."""
    folders = {}
    for s in bench.sides:
        folders[s] = Path(tempfile.mkdtemp(dir=bench.env.tmp))
        for h in histories[s]:
            data = {"workflowId": h.workflow_id, **json.loads(h.to_json())}
            (folders[s] / f"{h.workflow_id}.json").write_text(json.dumps(data))
    res = {s: await _replay(bench.env, bench.sides[s], folders[s], 2) for s in bench.sides}
    bench.add("replay histories/s", {s: res[s]["n"] / res[s]["seconds"] for s in bench.sides}, "histories/s", "{:.1f}")
    bench.add("replay events/s", {s: res[s]["events"] / res[s]["seconds"] for s in bench.sides}, "events/s", "{:.0f}")


async def _latency(bench: Bench) -> None:
    """One acknowledge at a time, alternating sides, on cases opened beforehand."""
    args, env, targets = bench.args, bench.env, bench.targets
    ids = {s: [f"clat{s}-{env.run_id}-{i:04d}" for i in range(args.latency_samples)] for s in bench.sides}
    await asyncio.gather(*(_open_all(lambda c, s=s: targets[s].open(c, 0), ids[s], 16) for s in bench.sides))
    await asyncio.sleep(2.0)
    ms: dict[str, list[float]] = {s: [] for s in bench.sides}
    for n in range(args.latency_samples):
        for s in ("A", "B") if n % 2 == 0 else ("B", "A"):
            t0 = time.perf_counter()
            await targets[s].act(ids[s][n], "acknowledge", {"actor": "agent-1"})
            ms[s].append((time.perf_counter() - t0) * 1000)
    for p in (50, 99):
        bench.add(f"acknowledge latency p{p}", {s: percentile(ms[s], p) for s in bench.sides}, "ms", "{:.1f}")


async def _breach(bench: Bench) -> None:
    """A burst of cases whose first response breaches at once; the lag is escalation minus breach."""
    args, env = bench.args, bench.env
    path = short_policy(env.tmp, f"{args.breach_target:g}s")
    short = load_policy(path)
    brw = {
        s: await WorkerProcess(
            env, "real", env.task_queue(f"cbr{s}"), root=bench.sides[s], policy=path, name=f"cbr-{s}"
        ).start()
        for s in bench.sides
    }
    ids = {s: [f"cbr{s}-{env.run_id}-{i:03d}" for i in range(args.breach_cases)] for s in bench.sides}
    await asyncio.gather(
        *(_open_all(lambda c, s=s: _start_real(env, brw[s].task_queue, c, short), ids[s], 25) for s in bench.sides)
    )
    rows = await _escalations(env, 2 * args.breach_cases, 120 + args.breach_target)
    lag = {
        s: [r["lag"].total_seconds() * 1000 for r in rows if r["case_id"].startswith(f"cbr{s}")]
        for s in bench.sides
    }
    for p in (50, 99):
        values = {s: percentile(lag[s], p) for s in bench.sides}
        bench.add(f"breach burst ({args.breach_cases} at once) p{p}", values, "ms", "{:.0f}")
    for w in brw.values():
        await w.stop()


async def _escalations(env: BenchEnv, expected: int, within: float) -> list[Any]:
    rows: list[Any] = []
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        rows = await env.pool.fetch(
            "SELECT c.case_id, (e.recorded_at - c.breached_at) AS lag FROM sla_clocks c"
            " JOIN case_events e ON e.case_id = c.case_id AND e.type = 'escalated'"
            " WHERE c.clock = 'first_response' AND c.round = 0 AND c.case_id LIKE 'cbr%'"
        )
        if len(rows) >= expected:
            break
        await asyncio.sleep(0.5)
    return rows


async def _memory(bench: Bench) -> None:
    """Fresh workers of each side, each holding the same number of open cases in its cache."""
    args, env, sides = bench.args, bench.env, bench.sides
    for w in bench.workers.values():
        await w.stop()
    mem = {
        s: await WorkerProcess(
            env, "real", env.task_queue(f"cmem{s}"), root=sides[s], max_cached=args.memory_cases + 1000,
            name=f"cmem-{s}",
        ).start()
        for s in sides
    }
    await asyncio.sleep(1.0)
    idle = {s: memory_kb(mem[s].pid)["VmRSS"] for s in sides}
    prefix = {s: f"cmem{s}-{env.run_id}-" for s in sides}
    ids = {s: [f"{prefix[s]}{i:05d}" for i in range(args.memory_cases)] for s in sides}
    await asyncio.gather(
        *(_open_all(lambda c, s=s: _start_real(env, mem[s].task_queue, c, bench.policy), ids[s], 32) for s in sides)
    )
    while True:
        done = [await _settled_real(env, prefix[s]) for s in sides]
        cached = [mem[s].status.get("cached", 0) for s in sides]
        if min(done) >= args.memory_cases and min(cached) >= args.memory_cases:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(3.0)
    loaded = {s: memory_kb(mem[s].pid)["VmRSS"] for s in sides}
    rss = {s: loaded[s] / 1024 for s in sides}
    bench.add(f"worker RSS with {args.memory_cases} cached cases", rss, "MiB", "{:.0f}")
    per_case = {s: (loaded[s] - idle[s]) / args.memory_cases for s in sides}
    bench.add("RSS per cached case", per_case, "KiB", "{:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--with", dest="other", type=Path, required=True, help="the other copy of the project (B)"
    )
    parser.add_argument("--only", default="e2e,replay,latency,breach,memory")
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--memory-cases", type=int, default=500)
    parser.add_argument("--breach-cases", type=int, default=50)
    parser.add_argument("--breach-target", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
