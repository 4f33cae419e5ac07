"""Draw the SLA dashboard's panels from a Prometheus, where no Grafana is at hand.

    python deploy/grafana/preview.py --prometheus http://127.0.0.1:9090 --minutes 30 --output dashboard.png

Each panel of deploy/grafana/dashboards/aftersales.json is placed on its grid position and runs
its own queries over the last N minutes through Prometheus's HTTP API: a time series panel as
lines, a stat panel as its last values. The queries are the dashboard's, unchanged, so a panel
that draws here reads the same series in Grafana. Needs matplotlib (the `report` extra).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

DASHBOARD = Path(__file__).parent / "dashboards" / "aftersales.json"
COLUMNS = 24
ROW_HEIGHT = 0.42  # inches per grid unit of height


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


def draw(board: dict[str, Any], base: str, minutes: int, end: float, output: Path) -> None:
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

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
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--end", type=float, default=None, help="end of the window, Unix seconds (default now)")
    parser.add_argument("--output", type=Path, default=Path("dashboard.png"))
    args = parser.parse_args()
    end = args.end if args.end is not None else time.time()
    draw(json.loads(DASHBOARD.read_text()), args.prometheus.rstrip("/"), args.minutes, end, args.output)
    print(args.output)


if __name__ == "__main__":
    main()
