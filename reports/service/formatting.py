"""Cell formats and row layouts shared by the text and HTML renderers.

Both renderers show the same groups (all cases, each tier, each category), the same summary
columns and the same definitions, so a figure reads identically in a terminal, an e-mail and a
browser. Everything here is a pure function of a `Report` or of one figure; nothing is computed
that the model does not already hold.
"""

from __future__ import annotations

from reports.service.figures import (
    CSAT_TARGET,
    RATINGS,
    SATISFIED_MIN_RATING,
    ClockFigures,
    GroupFigures,
    Report,
)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def fmt_target(met: bool | None) -> str:
    return "-" if met is None else ("met" if met else "missed")


def fmt_mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_share(rate: float | None, part: int, whole: int) -> str:
    """A rate with the counts it was taken of, e.g. "75.0% (3/4)"."""
    return f"{fmt_rate(rate)} ({part}/{whole})"


def fmt_clock(figures: ClockFigures | None) -> str:
    if figures is None:
        return "-"
    return fmt_share(figures.on_time_rate, figures.on_time, figures.decided)


def groups(report: Report) -> list[tuple[str, GroupFigures]]:
    """Every group with its row label: all cases, then the tiers, then the categories."""
    return (
        [("all cases", report.overall)]
        + [(f"tier {name}", g) for name, g in report.by_tier.items()]
        + [(f"category {name}", g) for name, g in report.by_category.items()]
    )


def clock_names(report: Report) -> list[str]:
    """The clocks any group has figures for, in domain order."""
    return list(report.clock_labels)


def period_text(report: Report) -> str:
    return (
        f"cases opened from {report.since.isoformat(' ', 'minutes')} "
        f"to {report.until.isoformat(' ', 'minutes')} (end excluded)"
    )


def target_text(report: Report, met_prefix: str) -> str:
    """The overall satisfied share against the target, or "no ratings"."""
    overall = report.overall
    if overall.csat_target_met is None:
        return "no ratings"
    return f"{fmt_rate(overall.satisfied_share)}, {met_prefix}{fmt_target(overall.csat_target_met)}"


SUMMARY_HEADERS = (
    "group", "cases", "FR p50", "FR p90", "resolved", "handled", "CSAT", "satisfied",
    "target", "follow-up", "escalated", "escalations", "reopened",
)


def summary_row(label: str, g: GroupFigures) -> list[str]:
    return [
        label,
        str(g.cases),
        fmt_duration(g.first_response_p50_seconds),
        fmt_duration(g.first_response_p90_seconds),
        fmt_rate(g.resolution_rate),
        fmt_rate(g.complaint_handling_rate),
        fmt_mean(g.csat_mean),
        fmt_rate(g.satisfied_share),
        fmt_target(g.csat_target_met),
        fmt_rate(g.follow_up_rate),
        fmt_rate(g.escalated_share),
        str(g.escalations),
        fmt_rate(g.reopen_rate),
    ]


def clock_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the on-time table: one column per clock, headed by its label."""
    labels = report.clock_labels
    rows = [[label, *(fmt_clock(g.clocks.get(c)) for c in labels)] for label, g in groups(report)]
    return ["group", *labels.values()], rows


RETURN_HEADERS = ("group", "returns", "lapsed", "inspections", "failed", "silent pass")


def return_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the returns table: lapses over returns, failures over inspections."""
    rows = [
        [
            label,
            str(g.returns_authorized),
            fmt_share(g.lapse_rate, g.returns_lapsed, g.returns_authorized),
            str(g.inspections),
            fmt_share(g.inspection_failure_rate, g.inspections_failed, g.inspections),
            str(g.inspections_silent),
        ]
        for label, g in groups(report)
    ]
    return list(RETURN_HEADERS), rows


ROUTING_TITLE = "Routing (assigned / routed; queue time over queued cases)"
ROUTING_HEADERS = (
    "group", "routed", "assigned", "assign p50", "assign p90", "queued", "queue p50", "queue p90",
)


def routing_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the routing table: assignments over routed cases, then the time to
    assignment and the time in the queue."""
    rows = [
        [
            label,
            str(g.routed),
            fmt_share(g.assigned_share, g.assigned, g.routed),
            fmt_duration(g.assignment_p50_seconds),
            fmt_duration(g.assignment_p90_seconds),
            str(g.queued),
            fmt_duration(g.queue_p50_seconds),
            fmt_duration(g.queue_p90_seconds),
        ]
        for label, g in groups(report)
    ]
    return list(ROUTING_HEADERS), rows


def csat_rows(report: Report) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the CSAT distribution table: one column per rating, then the total."""
    rows = [
        [label, *(str(g.csat_distribution.get(r, 0)) for r in RATINGS), str(g.rated)]
        for label, g in groups(report)
    ]
    return ["group", *(str(r) for r in RATINGS), "rated"], rows


def _satisfied_ratings() -> str:
    # "4 or 5" for the threshold of STANDARDS S6.3, written out from the one constant.
    names = [str(r) for r in RATINGS if r >= SATISFIED_MIN_RATING]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


DEFINITIONS = (
    ("FR p50 / p90", "median and 90th percentile of first response time (first response "
     "minus opening), over cases that have had a first response"),
    ("on time", "per SLA clock: clocks met without a breach, over clocks met or breached; "
     "running, paused and stopped clocks have no verdict yet and are left out; every round "
     "of a reopened case and every next-reply turn counts as its own clock; a breached "
     "return shipment clock is a lapsed return"),
    ("resolved", "cases with a resolution executed, over cases"),
    ("handled", "complaint handling rate: cases closed, withdrawn, lapsed or with a "
     "resolution executed, over cases"),
    ("CSAT", "mean rating (1-5, 5 best) over ratings given"),
    ("satisfied", f"ratings of {_satisfied_ratings()} over ratings given; target "
     f"{CSAT_TARGET:.0%} (STANDARDS S6.4)"),
    ("follow-up", "cases with a follow-up outcome recorded (including unreachable), over "
     "cases whose follow-up is required"),
    ("escalated", "cases escalated at least once, over cases; escalations is the total count"),
    ("reopened", "cases reopened at least once, over cases"),
    ("breached", "by merchant: SLA clocks breached (met late or never), over clocks met or "
     "breached, every clock, round and turn together; the worst breach rate comes first, then "
     "the merchant with more cases, then the lower merchant id; first response and resolution "
     "read on time / decided"),
    ("returns", "cases with a return authorised"),
    ("lapsed", "lapse rate: cases whose return was not shipped within the return window, "
     "over cases with a return authorised"),
    ("inspections", "inspection results recorded; a case can send its goods back more than "
     "once"),
    ("failed", "inspection failure rate: failed results, over inspection results"),
    ("silent pass", "results the policy passed because the warehouse gave none within the "
     "inspection window (included in inspections)"),
    ("routed", "cases the roster has placed with a team or an agent; a case never routed "
     "counts in none of the routing columns"),
    ("assigned", "routed cases that have had an agent assigned at least once, over routed "
     "cases"),
    ("assign p50 / p90", "median and 90th percentile of time to assignment (first assignment "
     "minus opening), over cases that have had an agent assigned"),
    ("queued", "routed cases placed in a team's queue at least once, even if an agent took "
     "them the same moment; a case an agent took by hand before it was ever placed is not "
     "queued"),
    ("queue p50 / p90", "median and 90th percentile of the time a case has spent in the queue, "
     "all its waits added up, over queued cases; a wait still under way counts once it ends "
     "in an assignment or a release"),
)
