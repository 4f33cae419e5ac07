"""The what-if as aligned plain-text tables, and as JSON (the `WhatIf` model as pydantic dumps
it, which validates back into a `WhatIf`)."""

from __future__ import annotations

from reports.service.render import text_table
from reports.whatif.figures import WhatIf
from reports.whatif.format import (
    DEFINITIONS,
    breach_rows,
    caveat_lines,
    examples,
    headline,
    on_time_rows,
    period_text,
    summary_rows,
)


def render_text(report: WhatIf) -> str:
    shown = examples(report.counts)
    lines = [
        "What if: the recorded cases under a candidate policy (actual -> candidate)",
        period_text(report),
        headline(report),
        "",
        *text_table(*summary_rows(report)),
        "",
        "On-time rate per SLA clock (on time / decided)",
        *text_table(*on_time_rows(report)),
        "",
        "Breaches per SLA clock",
        *text_table(*breach_rows(report)),
        "",
        "What the replay could not follow",
        *(f"  {line}" for line in caveat_lines(report.counts)),
        *(["  Where the first cases part from their record:"] + [f"    {e}" for e in shown]
          if shown else []),
        "",
        "Definitions",
        *(f"  {name}: {text}" for name, text in DEFINITIONS),
    ]
    return "\n".join(lines) + "\n"


def render_json(report: WhatIf) -> str:
    return report.model_dump_json(indent=2) + "\n"
