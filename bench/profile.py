"""`--profile DIR`: py-spy sampling profiles of the worker processes, and where their time went.

py-spy records each worker while a benchmark runs (a raw collapsed-stack file for the summary
printed here and a speedscope file to open in https://www.speedscope.app). Sampling costs CPU on
the same cores, so figures from a profiled run are not the ones to quote. Idle samples are left
out: what is left is where the worker's CPU went.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.env import WorkerProcess
from bench.report import Report, progress

MISSING = (
    "py-spy is not installed, so no profile was recorded: install it with "
    "`.venv/bin/pip install py-spy`"
)

# Where a frame's file belongs, first match wins: the SDK's sandbox apart from the rest of it.
_GROUPS = (
    ("temporalio sandbox", ("workflow_sandbox",)),
    ("temporalio SDK", ("temporalio",)),
    ("pydantic", ("pydantic",)),
    ("asyncpg", ("asyncpg",)),
    ("protobuf", ("google/protobuf", "protobuf")),
    ("cryptography / codec", ("cryptography", "workflows/codec")),
    ("structlog / logging", ("structlog", "logging")),
    ("case code", ("cases/", "workflows/", "activities/", "runtime/")),
    ("bench", ("bench/",)),
    ("asyncio", ("asyncio",)),
)
# Leaf frames that are waits py-spy does not always see as idle.
_WAITS = frozenset({("select", "selectors.py"), ("_worker", "thread.py"), ("wait", "threading.py")})
# What a worker sample was doing, judged by any frame of its stack.
_AREAS = (
    ("workflow activations (sandbox)", ("workflow_sandbox", "_workflow_instance.py")),
    ("activities and local activities", ("activities/", "temporalio/worker/_activity.py")),
    ("payload converter and codec", ("converter", "codec", "cryptography")),
    ("PostgreSQL (asyncpg)", ("asyncpg",)),
    ("pydantic", ("pydantic",)),
    ("logging", ("structlog", "logging")),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def executable() -> str | None:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else None


class Profiler:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.exe = executable() if folder is not None else None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.recorded: list[Path] = []
        if folder is not None and self.exe is None:
            progress(MISSING)

    @property
    def active(self) -> bool:
        return self.folder is not None and self.exe is not None

    def start(self, label: str, workers: list[WorkerProcess]) -> None:
        if not self.active:
            return
        assert self.folder is not None and self.exe is not None
        self.folder.mkdir(parents=True, exist_ok=True)
        for w in workers:
            for fmt, suffix in (("raw", "txt"), ("speedscope", "json")):
                out = self.folder / f"{label}-{w.mode}-worker.{suffix}"
                if fmt == "raw":
                    self.recorded.append(out)
                self.procs.append(
                    subprocess.Popen(
                        [self.exe, "record", "--pid", str(w.pid), "--rate", "200", "--nonblocking"]
                        + ["--format", fmt, "-o", str(out)],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def report(self, rep: Report, top: int = 12) -> None:
        section = "7. profile (py-spy, CPU samples of the worker processes)"
        if self.folder is None:
            return
        if self.exe is None:
            rep.note(section, MISSING)
            return
        for path in self.recorded:
            if not path.exists() or path.stat().st_size == 0:
                rep.note(section, f"{path.stem}: no samples (py-spy could not attach?)")
                continue
            prof = summarize(path)
            busy = max(prof.busy, 1)
            rep.note(
                section,
                f"{path.stem}: {prof.total} samples, {100 * (prof.total - prof.busy) / max(prof.total, 1):.0f}% "
                "of them waits py-spy counted as active (select, thread-pool queue); shares below "
                "are of the rest",
            )
            areas = ", ".join(f"{g} {100 * n / busy:.0f}%" for g, n in prof.areas.most_common())
            rep.note(section, f"{path.stem}: samples under (inclusive): {areas}")
            share = ", ".join(f"{g} {100 * n / busy:.0f}%" for g, n in prof.groups.most_common(8))
            rep.note(section, f"{path.stem}: self time by package: {share}")
            hot = "; ".join(f"{f} {100 * n / busy:.1f}%" for f, n in prof.functions.most_common(top))
            rep.note(section, f"{path.stem}: hottest functions (self time): {hot}")
        rep.note(section, f"profiles in {self.folder} (.json opens in speedscope)")


def _group(file: str) -> str:
    for name, needles in _GROUPS:
        if any(n in file for n in needles):
            return name
    return "other"


@dataclass
class Summary:
    total: int = 0
    busy: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    areas: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)


def _frame(text: str) -> tuple[str, str]:
    match = _FRAME.match(text)
    return (match["func"], match["file"]) if match else (text, "")


def summarize(path: Path) -> Summary:
    """Samples per package (self time), per area of the worker (inclusive) and per function."""
    out = Summary()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        out.total += n
        frames = [_frame(f) for f in stack.split(";")]
        func, file = frames[-1]
        if (func.rsplit(".", 1)[-1], file.rsplit("/", 1)[-1]) in _WAITS:
            continue
        out.busy += n
        out.groups[_group(file)] += n
        out.functions[f"{func} ({file})"] += n
        for area, needles in _AREAS:
            if any(any(x in f for x in needles) for _, f in frames):
                out.areas[area] += n
    return out
