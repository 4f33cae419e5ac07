"""The what-if as aligned plain-text tables, and as JSON (the `WhatIf` model as pydantic dumps
it, every merchant included, which validates back into a `WhatIf`). The text's merchant table
shows the `merchants` worst and says how many more there are."""

from __future__ import annotations

from reports.service.merchants import DEFAULT_SHOWN
from reports.service.render import merchant_lines, text_table
from reports.whatif.figures import WhatIf
from reports.whatif.format import (
    DEFINITIONS,
    RANKED_BY,
    breach_rows,
    caveat_lines,
    examples,
    headline,
    merchant_rows,
    on_time_rows,
    period_text,
    summary_rows,
)


def render_text(report: WhatIf, merchants: int = DEFAULT_SHOWN) -> str:
    shown = examples(report.counts)
    lines = [
        "What if: the recorded cases under a candidate policy (actual -> candidate)",
        period_text(report),
        headline(report),
        "",
        *text_table(*summary_rows(report)),
        *merchant_lines(len(report.by_merchant), merchants, merchant_rows(report, merchants),
                        RANKED_BY),
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
