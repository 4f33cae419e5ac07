"""Statistics and the printed report: every figure next to its baseline, as a ratio."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

_T0 = time.monotonic()


def progress(message: str) -> None:
    """A progress line on stderr, with the seconds since start."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass
class Figure:
    section: str
    name: str
    real: float
    baseline: float | None
    unit: str
    fmt: str = "{:.2f}"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.baseline is None else ratio(self.real, self.baseline)


@dataclass
class Target:
    name: str
    holds: bool
    detail: str


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(
        self,
        section: str,
        name: str,
        real: float,
        baseline: float | None,
        unit: str,
        fmt: str = "{:.2f}",
        note: str = "",
    ) -> Figure:
        figure = Figure(section, name, real, baseline, unit, fmt, note)
        self.figures.append(figure)
        return figure

    def note(self, section: str, text: str) -> None:
        self.notes.setdefault(section, []).append(text)

    def target(self, name: str, holds: bool, detail: str) -> None:
        self.targets.append(Target(name, holds, detail))

    def render(self) -> str:
        lines: list[str] = []
        sections = list(dict.fromkeys([f.section for f in self.figures] + list(self.notes)))
        width = max((len(f.name) for f in self.figures), default=20)
        for section in sections:
            lines.append("")
            lines.append(f"== {section} ==")
            figures = [f for f in self.figures if f.section == section]
            if figures:
                lines.append(
                    f"  {'figure':<{width}}  {'real':>12}  {'baseline':>12}  {'ratio':>7}  unit"
                )
            for f in figures:
                real = f.fmt.format(f.real)
                base = f.fmt.format(f.baseline) if f.baseline is not None else "-"
                rat = f"{f.ratio:.2f}x" if f.ratio is not None and not math.isnan(f.ratio) else "-"
                extra = f"  ({f.note})" if f.note else ""
                lines.append(
                    f"  {f.name:<{width}}  {real:>12}  {base:>12}  {rat:>7}  {f.unit}{extra}"
                )
            for text in self.notes.get(section, []):
                lines.append(f"  - {text}")
        if self.targets:
            lines.append("")
            lines.append("== targets ==")
            name_width = max(len(t.name) for t in self.targets)
            lines.append(f"  {'holds':<5}  {'target':<{name_width}}  result")
            for t in self.targets:
                lines.append(f"  {'yes' if t.holds else 'NO':<5}  {t.name:<{name_width}}  {t.detail}")
        return "\n".join(lines)
