"""Memory and CPU time of processes, read from /proc (Linux), so no extra dependency is needed."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            out[key] = value.strip()
    except OSError:
        pass
    return out


def rss_kb(pid: int) -> int:
    """Resident set size in KiB (VmRSS), 0 if the process is gone."""
    value = _status(pid).get("VmRSS", "0 kB")
    return int(value.split()[0])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile and VmHWM (peak RSS) in KiB."""
    status = _status(pid)
    return {
        key: int(status.get(key, "0 kB").split()[0])
        for key in ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    }


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds of one process (plus its waited-for children, if asked)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # After the ")": state is index 0, so utime/stime/cutime/cstime are 11..14.
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def children(pid: int) -> list[int]:
    """Live direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process, its reaped children, and its live children (one level)."""
    return cpu_seconds(pid, reaped_children=True) + sum(cpu_seconds(c) for c in children(pid))
