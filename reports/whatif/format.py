"""The what-if's tables, as rows of cells, shared by the text and HTML pages.

Every cell puts the recorded figure first and the candidate's after an arrow, with the change
in brackets when there is one, so the two read side by side in a terminal and in a browser.
Cells use the service report's formats (`reports/service/formatting.py`), and the merchant
table ranks merchants as the service report does (`reports/service/merchants.py`), by the
candidate's breach rate: what the candidate would make of each merchant is the question asked.
"""

from __future__ import annotations

from reports.service.formatting import fmt_clock, fmt_rate
from reports.service.merchants import MerchantTable, worst
from reports.whatif.figures import Group, ReplayCounts, SideFigures, WhatIf

ARROW = "->"


def groups(report: WhatIf) -> list[tuple[str, Group]]:
    return [("all cases", report.overall)] + [(f"tier {t}", g) for t, g in report.by_tier.items()]


def change(before: int, after: int) -> str:
    delta = after - before
    return f"{before} {ARROW} {after}" + (f" ({delta:+d})" if delta else "")


def period_text(report: WhatIf) -> str:
    return (
        f"cases opened from {report.since.isoformat(' ', 'minutes')} "
        f"to {report.until.isoformat(' ', 'minutes')} (end excluded)"
    )


def headline(report: WhatIf) -> str:
    n = report.overall.actual.cases
    rate = n / report.seconds if report.seconds else 0.0
    return f"{n} cases replayed under {report.policy} in {report.seconds:.1f} s ({rate:,.0f} cases/s)"


SUMMARY_HEADERS = ("group", "cases", "breaches", "escalations", "escalated cases",
                   "approvals needed", "cases needing approval")


def summary_rows(report: WhatIf) -> tuple[list[str], list[list[str]]]:
    rows = []
    for label, g in groups(report):
        a, c = g.actual, g.candidate
        rows.append([
            label,
            change(a.cases, c.cases),
            change(a.breaches, c.breaches),
            change(a.escalations, c.escalations),
            f"{change(a.escalated_cases, c.escalated_cases)} = "
            f"{fmt_rate(a.escalated_share)} {ARROW} {fmt_rate(c.escalated_share)}",
            change(a.approvals_needed, c.approvals_needed),
            change(a.cases_needing_approval, c.cases_needing_approval),
        ])
    return list(SUMMARY_HEADERS), rows


MERCHANT_HEADERS = ("merchant", "cases", "breached clocks", "escalations", "approvals needed")
RANKED_BY = "candidate breach rate"


def _candidate_rank(g: Group) -> tuple[float | None, int]:
    return g.candidate.breach_rate, g.candidate.cases


def merchant_rows(report: WhatIf, shown: int) -> MerchantTable:
    """Headers and rows of the by-merchant table, worst candidate breach rate first, and how
    many merchants it left out."""
    kept, left_out = worst(report.by_merchant, _candidate_rank, shown)
    rows = []
    for merchant, g in kept:
        a, c = g.actual, g.candidate
        rows.append([
            merchant,
            change(a.cases, c.cases),
            f"{change(a.breaches, c.breaches)} = "
            f"{fmt_rate(a.breach_rate)} {ARROW} {fmt_rate(c.breach_rate)}",
            change(a.escalations, c.escalations),
            change(a.approvals_needed, c.approvals_needed),
        ])
    return list(MERCHANT_HEADERS), rows, left_out


def _clock_cell(a: SideFigures, c: SideFigures, name: str) -> str:
    before, after = a.clocks.get(name), c.clocks.get(name)
    return f"{fmt_clock(before)} {ARROW} {fmt_clock(after)}"


def on_time_rows(report: WhatIf) -> tuple[list[str], list[list[str]]]:
    labels = report.clock_labels
    rows = [
        [label, *(_clock_cell(g.actual, g.candidate, name) for name in labels)]
        for label, g in groups(report)
    ]
    return ["group", *labels.values()], rows


def breach_rows(report: WhatIf) -> tuple[list[str], list[list[str]]]:
    labels = report.clock_labels

    def breached(side: SideFigures, name: str) -> int:
        clock = side.clocks.get(name)
        return clock.breached if clock is not None else 0

    rows = [
        [label, *(change(breached(g.actual, n), breached(g.candidate, n)) for n in labels)]
        for label, g in groups(report)
    ]
    return ["group", *labels.values()], rows


def caveat_lines(counts: ReplayCounts) -> list[str]:
    """What the replay could not follow, said plainly."""
    refused = ", ".join(f"{n} {name}" for name, n in counts.refused_by_action.items())
    unmapped = ", ".join(f"{n} {name}" for name, n in counts.unmapped_events.items())
    lines = [
        f"{counts.actions} recorded actions were replayed at their recorded instants.",
        f"{counts.after_deadline} of them came right after a warning, breach or other deadline of "
        "the recorded policy; under the candidate they may well have come at another time.",
        f"{counts.refused} were refused by the replayed case and skipped"
        + (f" ({refused})." if refused else "."),
        f"{counts.results_skipped} workflow results (a refund, a booking) arrived when the "
        "replayed case no longer waited for them and were skipped.",
        "Every audit event type was mapped back to its input."
        if not unmapped else f"Audit events of unknown type were left out: {unmapped}.",
        f"{counts.changed_cases} cases replayed differently from their record (any audit event "
        f"or clock), of which {counts.outcome_changed_cases} ended another way (status, tier, "
        "escalations or reopens)"
        + (f"; {counts.failed_cases} more could not be read or replayed and are left out of "
           "both sides." if counts.failed_cases else "."),
    ]
    if counts.amended_cases:
        lines.append(
            f"{counts.amended_cases} cases were amended while running; replayed on the "
            "candidate's rules without the amendment."
        )
    if counts.retried_openings:
        lines.append(
            f"{counts.retried_openings} cases were opened by a workflow task that was retried; "
            "their record kept the first attempt's instants for the opening events, so those are "
            "compared by type, and the case is replayed from the instant it actually opened."
        )
    return lines


SHOWN_EXAMPLES = 3


def examples(counts: ReplayCounts) -> list[str]:
    """The first few places a replay departed from its record (all of them are in the JSON)."""
    return [e if len(e) <= 300 else e[:297] + "..." for e in counts.examples[:SHOWN_EXAMPLES]]


DEFINITIONS = (
    ("actual", "counted from the recorded audit trails"),
    ("candidate", "counted from the same cases replayed under the candidate policy"),
    ("breaches", "SLA clocks breached, every round and turn counted"),
    ("on time", "per SLA clock: turns met without a breach, over turns met or breached"),
    ("escalations", "escalation events (breaches, failed steps, low ratings, by hand)"),
    ("approvals needed", "proposals that needed review (STANDARDS S3.1)"),
    ("tier", "each case counts in the tier it ended in on that side"),
    ("breached clocks", "by merchant: SLA clocks breached, over clocks met or breached (the "
     "rate after the equals sign); the worst candidate rate comes first, then the merchant "
     "with more cases, then the lower merchant id"),
)
