"""Draw the SLA dashboard's panels from a Prometheus, where no Grafana is at hand.

    python deploy/grafana/preview.py --prometheus http://127.0.0.1:9090 --minutes 30 --output dashboard.png \
        --database-url postgresql://aftersales:PASSWORD@127.0.0.1:5432/aftersales

Each panel of deploy/grafana/dashboards/aftersales.json is placed on its grid position and runs
its own queries over the last N minutes through Prometheus's HTTP API: a time series panel as
lines, a stat panel as its last values. The queries are the dashboard's, unchanged, so a panel
that draws here reads the same series in Grafana. The merchant tables query the application
database instead: with `--database-url` their SQL runs, in a read-only transaction, with
`$__timeFilter(column)` written out over the same N minutes as Grafana writes it, and draws as a
table; without it they are left empty and named on stderr. Needs matplotlib (the `report` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

DASHBOARD = Path(__file__).parent / "dashboards" / "aftersales.json"
COLUMNS = 24
ROW_HEIGHT = 0.42  # inches per grid unit of height
# Grafana's PostgreSQL data source (its plugin id since Grafana 10; `postgres` is an alias).
POSTGRES = "grafana-postgresql-datasource"
TIME_FILTER = re.compile(r"\$__timeFilter\(\s*([^()]+?)\s*\)")
# Rows a table panel has room for; the dashboard's queries ask for no more.
MAX_ROWS = 20

Table = tuple[list[str], list[list[Any]]]


def is_sql(panel: dict[str, Any]) -> bool:
    return (panel.get("datasource") or {}).get("type") == POSTGRES


def sql_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that query the application database rather than Prometheus, in board order."""
    return [p for p in board["panels"] if is_sql(p)]


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def with_time_range(sql: str, start: datetime, end: datetime) -> str:
    """`sql` with each `$__timeFilter(column)` written out as Grafana's PostgreSQL source writes
    it, `column BETWEEN 'from' AND 'to'` in UTC, so the preview and the tests run what Grafana runs."""
    expanded = TIME_FILTER.sub(lambda m: f"{m[1]} BETWEEN '{_rfc3339(start)}' AND '{_rfc3339(end)}'", sql)
    if "$__" in expanded:
        # Another macro would reach PostgreSQL as a syntax error far from its cause.
        raise ValueError(f"a Grafana macro the preview cannot write out: {expanded}")
    return expanded


async def panel_rows(conn: asyncpg.Connection, panel: dict[str, Any], start: datetime, end: datetime) -> Table:
    """The column names and rows of a SQL panel's one query over `start`..`end`."""
    (target,) = panel["targets"]
    statement = await conn.prepare(with_time_range(target["rawSql"], start, end))
    # From the statement, not the rows: an empty table still has its header.
    columns = [attribute.name for attribute in statement.get_attributes()]
    return columns, [list(row) for row in await statement.fetch()]


async def sql_tables(url: str, panels: list[dict[str, Any]], start: datetime, end: datetime) -> dict[int, Table]:
    conn = await asyncpg.connect(url)
    try:
        # The dashboard's SQL only reads; this keeps a preview pointed at production from writing.
        async with conn.transaction(readonly=True):
            return {panel["id"]: await panel_rows(conn, panel, start, end) for panel in panels}
    finally:
        await conn.close()


def query_range(http: httpx.Client, base: str, expr: str, minutes: int, end: float) -> list[dict[str, Any]]:
    answer = http.get(
        f"{base}/api/v1/query_range",
        params={"query": expr, "start": end - minutes * 60, "end": end, "step": max(5, minutes * 60 // 240)},
    )
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def legend(template: str, labels: dict[str, str]) -> str:
    text = template
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    return text if "{{" not in text else ", ".join(labels.values()) or "value"


def column_units(panel: dict[str, Any]) -> dict[str, str]:
    """The unit each column is shown in, from the panel's by-name overrides."""
    found: dict[str, str] = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName":
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    found[override["matcher"]["options"]] = prop["value"]
    return found


def cell(value: Any, unit: str | None) -> str:
    if value is None:
        return ""
    if unit == "percent":
        return f"{float(value):.1f}%"
    if unit == "s":
        hours, rest = divmod(int(value), 3600)
        return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"
    return str(value)


def draw_table(ax: Axes, panel: dict[str, Any], table: Table | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if table is None:
        ax.text(0.5, 0.5, "SQL panel: give --database-url to draw it", ha="center", color="#8e8e8e",
                transform=ax.transAxes)
        return
    columns, rows = table
    if not rows:
        ax.text(0.5, 0.5, "no rows", ha="center", color="#8e8e8e", transform=ax.transAxes)
        return
    shown = column_units(panel)
    text = [[cell(v, shown.get(c)) for c, v in zip(columns, row, strict=True)] for row in rows[:MAX_ROWS]]
    grid = ax.table(cellText=text, colLabels=columns, loc="upper center", cellLoc="left")
    grid.auto_set_font_size(False)
    grid.set_fontsize(7)
    for (line, _), box in grid.get_celld().items():
        box.set_facecolor("#22252b" if line == 0 else "#181b1f")
        box.set_edgecolor("#2c3235")
        box.get_text().set_color("#ccccdc")


def draw(board: dict[str, Any], base: str, minutes: int, end: float, output: Path,
         tables: dict[int, Table] | None = None) -> None:
    panels = board["panels"]
    # Grid units of height, with two on top for the title.
    units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) + 2
    figure = Figure(figsize=(20, units * ROW_HEIGHT), facecolor="#111217")
    until = datetime.fromtimestamp(end).strftime("%Y-%m-%d %H:%M")
    figure.text(0.01, 1 - 0.8 / units, f"{board['title']}: {minutes} min to {until}", color="white", fontsize=15)
    with httpx.Client(timeout=30) as http:
        for panel in panels:
            grid = panel["gridPos"]
            left, width = grid["x"] / COLUMNS, grid["w"] / COLUMNS
            bottom, tall = 1 - (2 + grid["y"] + grid["h"]) / units, grid["h"] / units
            if panel["type"] == "row":
                figure.text(left + 0.005, bottom + tall * 0.2, panel["title"], color="#ccccdc", fontsize=12,
                            weight="bold")
                continue
            # Room on the left for tick labels and on top for the panel's title.
            ax = figure.add_axes((left + 0.03, bottom + 0.6 / units, width - 0.036, tall - 1.3 / units))
            ax.set_facecolor("#181b1f")
            ax.set_title(panel["title"], color="#ccccdc", fontsize=10, loc="left")
            for spine in ax.spines.values():
                spine.set_color("#2c3235")
            ax.tick_params(colors="#8e8e8e", labelsize=7)
            if is_sql(panel):
                draw_table(ax, panel, (tables or {}).get(panel["id"]))
                continue
            series = [
                (legend(t.get("legendFormat", ""), r["metric"]), r["values"])
                for t in panel["targets"]
                for r in query_range(http, base, t["expr"], minutes, end)
            ]
            if panel["type"] == "stat":
                ax.set_xticks([])
                ax.set_yticks([])
                shown = series or [("no data", [[0, "0"]])]
                for i, (name, values) in enumerate(shown):
                    x = (i + 0.5) / len(shown)
                    ax.text(x, 0.55, f"{float(values[-1][1]):g}", ha="center", va="center", color="white",
                            fontsize=22, transform=ax.transAxes)
                    ax.text(x, 0.18, name, ha="center", color="#ccccdc", fontsize=9, transform=ax.transAxes)
                continue
            for name, values in series:
                ax.plot([datetime.fromtimestamp(float(t)) for t, _ in values], [float(v) for _, v in values],
                        label=name, linewidth=1.4)
            ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
            if series:
                ax.legend(fontsize=7, loc="upper left", facecolor="#181b1f", labelcolor="#ccccdc", framealpha=0.8)
            else:
                ax.text(0.5, 0.5, "no data", ha="center", color="#8e8e8e", transform=ax.transAxes)
    figure.savefig(output, dpi=80, facecolor=figure.get_facecolor())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--database-url", default=None,
                        help="the application database, for the merchant tables (default: leave them empty)")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--end", type=float, default=None, help="end of the window, Unix seconds (default now)")
    parser.add_argument("--output", type=Path, default=Path("dashboard.png"))
    args = parser.parse_args()
    end = args.end if args.end is not None else time.time()
    board = json.loads(DASHBOARD.read_text())
    tables: dict[int, Table] | None = None
    if args.database_url:
        until = datetime.fromtimestamp(end, UTC)
        since = datetime.fromtimestamp(end - args.minutes * 60, UTC)
        tables = asyncio.run(sql_tables(args.database_url, sql_panels(board), since, until))
    else:
        for panel in sql_panels(board):
            print(f"skipped SQL panel {panel['title']!r}: give --database-url to draw it", file=sys.stderr)
    draw(board, args.prometheus.rstrip("/"), args.minutes, end, args.output, tables)
    print(args.output)


if __name__ == "__main__":
    main()
