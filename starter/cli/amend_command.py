"""`aftersales amend`: put running cases on an amended calendar, and amended targets if given.

The files are read and checked before anything is sent. Then every running case the query
selects gets the `amend` update, a batch at a time, with at most one batch in flight. A case
answers "changed" or "unchanged" (it already runs on these rules), or refuses with its reason,
so running the command again after an interruption, or twice, changes only what is left. The
summary on stdout names cases by id and carries no personal data.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cases.ids import DEFAULT_MERCHANT, is_merchant_id
from cases.policy.amendment import PolicyAmendment
from cases.policy.snapshot import load_policy
from runtime.errors import UserError
from runtime.settings import Settings
from starter.cli.amend_input import load_amendment
from starter.cli.common import case_client, print_json
from starter.client import CaseClient, CaseError

RUNNING = "ExecutionStatus = 'Running'"
DEFAULT_BATCH = 20
_LIST_PAGE = 1000


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "amend", help="put running cases on an amended calendar (and targets); prints a summary"
    )
    p.add_argument("--calendar", required=True, metavar="FILE",
                   help="a TOML file with a [calendar] table, keys as in the policy file")
    p.add_argument("--targets", metavar="FILE",
                   help="a TOML file of [targets.<tier>] tables; without it targets stay as they are")
    p.add_argument("--query", help="narrow the running cases, e.g. CaseTier = 'urgent'")
    p.add_argument("--merchant", help="only this merchant's running cases")
    p.add_argument("--batch", default=str(DEFAULT_BATCH), metavar="N",
                   help=f"cases amended at once (default {DEFAULT_BATCH})")


@dataclass
class Summary:
    amendment_id: str
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"changed": len(self.changed), "unchanged": len(self.unchanged), "refused": len(self.refused)}

    def as_json(self, years: list[int], targets: bool) -> dict[str, Any]:
        return {
            "amendment_id": self.amendment_id,
            "years": years,
            "targets_amended": targets,
            "counts": self.counts(),
            "changed": sorted(self.changed, key=lambda c: str(c["case_id"])),
            "unchanged": sorted(self.unchanged),
            "refused": sorted(self.refused, key=lambda r: r["case_id"]),
        }


class Progress:
    """Progress on stderr: one line rewritten in place on a terminal, a line per batch otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.live = stream.isatty()

    def update(self, done: int, summary: Summary) -> None:
        counts = summary.counts()
        line = (f"amend: {done}/{self.total} cases, {counts['changed']} changed, "
                f"{counts['unchanged']} unchanged, {counts['refused']} refused")
        if self.live:
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def batch_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError:
        raise UserError(f"--batch: expected a whole number of cases, got {text!r}") from None
    if not 1 <= size <= 1000:
        raise UserError(f"--batch: must be 1 to 1000, got {size}")
    return size


async def cmd_amend(args: argparse.Namespace, settings: Settings) -> None:
    batch = batch_size(args.batch)
    targets = Path(args.targets) if args.targets else None
    in_force = load_policy(settings.policy_path).calendar
    amendment = load_amendment(Path(args.calendar), targets, datetime.now(UTC), in_force)
    client = await case_client(settings)
    case_ids = await running_cases(client, merchant_query(args.merchant, args.query))
    summary = await amend_all(client, case_ids, amendment, batch, Progress(len(case_ids)))
    print_json(summary.as_json(amendment.calendar.years, amendment.targets is not None))


def merchant_query(merchant: str | None, query: str | None) -> str | None:
    """`query` narrowed to `merchant`'s cases (the default merchant's include cases opened before
    cases named their merchant)."""
    if merchant is None:
        return query
    if not is_merchant_id(merchant):
        raise UserError(f"--merchant: {merchant[:40]!r} is not a merchant id")
    term = f"MerchantId = '{merchant}'"
    if merchant == DEFAULT_MERCHANT:
        term = f"({term} OR MerchantId IS NULL)"
    return f"{term} AND ({query})" if query else term


async def running_cases(client: CaseClient, query: str | None) -> list[str]:
    """Every running case the query selects, listed in full before the first is sent anything,
    so amending (which moves the cases' search attributes) cannot shift the pages."""
    extra = f"{RUNNING} AND ({query})" if query else RUNNING
    found: dict[str, None] = {}
    token: bytes | None = None
    while True:
        page, token = await client.page(extra, _LIST_PAGE, token)
        found.update((c.case_id, None) for c in page)
        if token is None:
            return list(found)


async def amend_all(
    client: CaseClient, case_ids: list[str], amendment: PolicyAmendment, batch: int, progress: Progress
) -> Summary:
    summary = Summary(amendment.id)

    async def one(case_id: str) -> None:
        try:
            answer = await client.amend(case_id, amendment)
        except CaseError as err:
            summary.refused.append({"case_id": case_id, "reason": _reason(case_id, err)})
            return
        except Exception as err:
            # One case's surprise must not cost the summary of every other case already sent.
            summary.refused.append({"case_id": case_id, "reason": _unexpected(err)})
            return
        if answer.outcome == "changed":
            summary.changed.append({"case_id": case_id, "clocks": [c.value for c in answer.clocks]})
        else:
            summary.unchanged.append(case_id)

    for start in range(0, len(case_ids), batch):
        chunk = case_ids[start:start + batch]
        await asyncio.gather(*(one(case_id) for case_id in chunk))
        progress.update(start + len(chunk), summary)
    return summary


def _reason(case_id: str, err: CaseError) -> str:
    # The case's own words, without the "case <id>: " every client error starts with, and
    # without the list of every update a worker of an older release knows.
    text = str(err).removeprefix(f"case {case_id}: ").splitlines()[0] if str(err) else err.kind
    text = text.split(" known updates:")[0].rstrip(" .,")
    if "'amend' expected but not found" in text:
        text = "its worker runs a release without the amend update; deploy first, then run again"
    return text[:300]


def _unexpected(err: Exception) -> str:
    # The type and the first line only: a message from deep in a library may carry anything.
    first = str(err).splitlines()[0] if str(err) else ""
    return f"unexpected error: {type(err).__name__}: {first}".rstrip(": ")[:300]
