"""Reading a worker's `/metrics` the way Prometheus does, for the metrics tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "aftersales.json"

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Series:
    """Every sample on the endpoint, keyed by name and labels."""
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"http://127.0.0.1:{port}/metrics")
    answer.raise_for_status()
    out: Series = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(series: Series, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and wanted <= ls)


def has(series: Series, name: str, **labels: str) -> bool:
    """Whether a series of `name` with `labels` is exported at all (a gauge at 0 still is)."""
    wanted = set(labels.items())
    return any(n == name and wanted <= ls for n, ls in series)


def counters(series: Series) -> Series:
    """The engine's own counters: what a replay must leave alone."""
    return {k: v for k, v in series.items() if k[0].startswith("aftersales_") and k[0].endswith("_total")}


_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "or", "and", "unless",
                       "offset", "bool"})
# Made by Prometheus itself for every target it scrapes, not by the worker.
PROMETHEUS_MADE = frozenset({"up", "scrape_duration_seconds"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: not its functions, labels or keywords."""
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    found = re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr)
    return {name for name, call in found if not call and name not in _KEYWORDS}


def dashboard_metrics() -> set[str]:
    """Every metric name the dashboard's Prometheus queries read. The merchant tables query the
    application database in SQL (tests/integration/test_dashboard_sql.py checks them)."""
    board = json.loads(DASHBOARD.read_text())
    names: set[str] = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if "rawSql" in target:
                continue
            names |= metric_names(target["expr"])
    return names
