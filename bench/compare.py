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
from pathlib import Path
from typing import Any

from bench.breach import short_policy
from bench.drivers import RealTarget, closed_loop
from bench.e2e import fetch_histories
from bench.env import ROOT, TEST_CODEC_KEYS, BenchEnv, WorkerProcess, cpu_delta
from bench.memory import _open_all, _settled_real, _start_real
from bench.plan import mean_shape, shape_of
from bench.procstat import memory_kb
from bench.report import Report, percentile, progress
from cases.ids import workflow_id_for
from cases.policy.snapshot import load_policy

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


async def run(args: argparse.Namespace) -> None:
    sides = {"A": ROOT, "B": args.other.resolve()}
    only = args.only.split(",")
    rep = Report()
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
        targets = {
            side: RealTarget(env.client, w.task_queue, policy) for side, w in workers.items()
        }
        for side in sides:  # warm-up: every worker has run each code path once
            await closed_loop(targets[side], [f"warm{side}-{env.run_id}-{i}" for i in range(4)], 4)
        section = "before (A) / after (B)"
        if "e2e" in only:
            half = args.cases // 2
            ids = {s: [f"cmp{s}-{env.run_id}-{i:04d}" for i in range(args.cases)] for s in sides}
            seconds = {s: 0.0 for s in sides}
            cpu = {
                s: {"worker": 0.0, "temporal": 0.0, "postgres": 0.0, "client": 0.0} for s in sides
            }
            for side, chunk in (("A", 0), ("B", 0), ("B", 1), ("A", 1)):
                part = ids[side][chunk * half : (chunk + 1) * half]
                before = env.cpu_snapshot([workers[side]])
                result = await closed_loop(targets[side], part, args.concurrency)
                for k, v in cpu_delta(before, env.cpu_snapshot([workers[side]])).items():
                    cpu[side][k] += v
                seconds[side] += result.seconds
                if result.errors:
                    raise RuntimeError(f"{side}: {result.errors[:3]}")
                progress(f"  {side}: {len(part)} cases in {result.seconds:.1f}s")
            n = 2 * half
            rep.add(
                section, "e2e throughput (B vs A)", n / seconds["B"], n / seconds["A"], "cases/s"
            )
            for k in ("worker", "temporal", "postgres"):
                rep.add(
                    section,
                    f"CPU {k} / case",
                    cpu["B"][k] / n * 1000,
                    cpu["A"][k] / n * 1000,
                    "ms",
                    "{:.1f}",
                )
            histories = {
                s: await fetch_histories(env.client, [workflow_id_for(i) for i in ids[s][:n]])
                for s in sides
            }
            shapes = {s: mean_shape(shape_of(h.events) for h in histories[s]) for s in sides}
            for k in ("events", "activities", "local_activities", "workflow_tasks"):
                rep.add(section, f"{k} / case", shapes["B"][k], shapes["A"][k], "", "{:.1f}")
            rep.add(
                section,
                "history KiB / case",
                shapes["B"]["history_bytes"] / 1024,
                shapes["A"]["history_bytes"] / 1024,
                "KiB",
                "{:.1f}",
            )
            if "replay" in only:
                folders = {}
                for s in sides:
                    folders[s] = Path(tempfile.mkdtemp(dir=env.tmp))
                    for h in histories[s]:
                        data = {"workflowId": h.workflow_id, **json.loads(h.to_json())}
                        (folders[s] / f"{h.workflow_id}.json").write_text(json.dumps(data))
                res = {s: await _replay(env, sides[s], folders[s], 2) for s in sides}
                rep.add(
                    section,
                    "replay histories/s",
                    res["B"]["n"] / res["B"]["seconds"],
                    res["A"]["n"] / res["A"]["seconds"],
                    "histories/s",
                    "{:.1f}",
                )
                rep.add(
                    section,
                    "replay events/s",
                    res["B"]["events"] / res["B"]["seconds"],
                    res["A"]["events"] / res["A"]["seconds"],
                    "events/s",
                    "{:.0f}",
                )
        if "latency" in only:
            ids = {
                s: [f"clat{s}-{env.run_id}-{i:04d}" for i in range(args.latency_samples)]
                for s in sides
            }
            await asyncio.gather(
                *(_open_all(lambda c, s=s: targets[s].open(c, 0), ids[s], 16) for s in sides)
            )
            await asyncio.sleep(2.0)
            ms: dict[str, list[float]] = {s: [] for s in sides}
            for n in range(args.latency_samples):
                for s in ("A", "B") if n % 2 == 0 else ("B", "A"):
                    t0 = time.perf_counter()
                    await targets[s].act(ids[s][n], "acknowledge", {"actor": "agent-1"})
                    ms[s].append((time.perf_counter() - t0) * 1000)
            for p in (50, 99):
                rep.add(
                    section,
                    f"acknowledge latency p{p}",
                    percentile(ms["B"], p),
                    percentile(ms["A"], p),
                    "ms",
                    "{:.1f}",
                )
        if "breach" in only:
            path = short_policy(env.tmp, f"{args.breach_target:g}s")
            short = load_policy(path)
            brw = {
                s: await WorkerProcess(
                    env,
                    "real",
                    env.task_queue(f"cbr{s}"),
                    root=sides[s],
                    policy=path,
                    name=f"cbr-{s}",
                ).start()
                for s in sides
            }
            ids = {
                s: [f"cbr{s}-{env.run_id}-{i:03d}" for i in range(args.breach_cases)] for s in sides
            }
            await asyncio.gather(
                *(
                    _open_all(
                        lambda c, s=s: _start_real(env, brw[s].task_queue, c, short), ids[s], 25
                    )
                    for s in sides
                )
            )
            rows: list[Any] = []
            deadline = time.perf_counter() + 120 + args.breach_target
            while time.perf_counter() < deadline:
                rows = await env.pool.fetch(
                    "SELECT c.case_id, (e.recorded_at - c.breached_at) AS lag FROM sla_clocks c"
                    " JOIN case_events e ON e.case_id = c.case_id AND e.type = 'escalated'"
                    " WHERE c.clock = 'first_response' AND c.round = 0 AND c.case_id LIKE 'cbr%'"
                )
                if len(rows) >= 2 * args.breach_cases:
                    break
                await asyncio.sleep(0.5)
            lag = {
                s: [
                    r["lag"].total_seconds() * 1000
                    for r in rows
                    if r["case_id"].startswith(f"cbr{s}")
                ]
                for s in sides
            }
            for p in (50, 99):
                rep.add(
                    section,
                    f"breach burst ({args.breach_cases} at once) p{p}",
                    percentile(lag["B"], p),
                    percentile(lag["A"], p),
                    "ms",
                    "{:.0f}",
                )
            for w in brw.values():
                await w.stop()
        if "memory" in only:
            for w in workers.values():
                await w.stop()
            mem = {
                s: await WorkerProcess(
                    env,
                    "real",
                    env.task_queue(f"cmem{s}"),
                    root=sides[s],
                    max_cached=args.memory_cases + 1000,
                    name=f"cmem-{s}",
                ).start()
                for s in sides
            }
            await asyncio.sleep(1.0)
            idle = {s: memory_kb(mem[s].pid)["VmRSS"] for s in sides}
            prefix = {s: f"cmem{s}-{env.run_id}-" for s in sides}
            ids = {s: [f"{prefix[s]}{i:05d}" for i in range(args.memory_cases)] for s in sides}
            await asyncio.gather(
                *(
                    _open_all(
                        lambda c, s=s: _start_real(env, mem[s].task_queue, c, policy), ids[s], 32
                    )
                    for s in sides
                )
            )
            while True:
                done = [await _settled_real(env, prefix[s]) for s in sides]
                cached = [mem[s].status.get("cached", 0) for s in sides]
                if min(done) >= args.memory_cases and min(cached) >= args.memory_cases:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(3.0)
            loaded = {s: memory_kb(mem[s].pid)["VmRSS"] for s in sides}
            rep.add(
                section,
                f"worker RSS with {args.memory_cases} cached cases",
                loaded["B"] / 1024,
                loaded["A"] / 1024,
                "MiB",
                "{:.0f}",
            )
            rep.add(
                section,
                "RSS per cached case",
                (loaded["B"] - idle["B"]) / args.memory_cases,
                (loaded["A"] - idle["A"]) / args.memory_cases,
                "KiB",
                "{:.1f}",
            )
        rep.note(
            section, "columns: 'real' is B (the changed copy), 'baseline' is A (this checkout)"
        )
    finally:
        await env.close()
    print(rep.render())


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
