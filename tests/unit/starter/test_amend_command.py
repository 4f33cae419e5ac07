"""`aftersales amend` without a server: the files it reads and the summary it always prints.

The calendar file is laid over the policy in force, so a file listing only the announced days
keeps the policy's time zone, hours and country. One case failing in a way nobody foresaw is
that case's refusal, never the end of the run, and a case that did not answer in time is not
reported as one that refused.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from cases.clocks.calendar import CalendarSettings
from cases.models import ClockName
from cases.policy.amendment import AmendmentAnswer, PolicyAmendment
from runtime.errors import UserError
from starter.cli.amend_command import Progress, amend_all, merchant_query
from starter.cli.amend_input import load_amendment
from starter.client import CaseClient, CaseError

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
IN_FORCE = CalendarSettings(
    timezone="Europe/Berlin", work_start=time(8, 0), work_end=time(16, 30), weekend=[6],
    holidays_country="", extra_holidays=[date(2027, 12, 24)],
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "amended.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_keys_the_calendar_file_leaves_out_are_the_policy_s_in_force(tmp_path: Path) -> None:
    path = write(tmp_path, "[calendar]\nextra_workdays = [2027-01-10]\n")
    calendar = load_amendment(path, None, NOW, IN_FORCE).calendar
    assert (calendar.timezone, calendar.work_start, calendar.work_end) == ("Europe/Berlin", time(8), time(16, 30))
    assert calendar.weekend == [6]
    # No country: only the policy's own day off, not China's (or anyone's) public holidays.
    assert calendar.holidays == [date(2027, 12, 24)]
    assert calendar.workdays == [date(2027, 1, 10)]
    assert calendar.years == [2025, 2026, 2027, 2028]


def test_a_key_the_file_gives_replaces_the_policy_s_whole(tmp_path: Path) -> None:
    path = write(tmp_path, '[calendar]\ntimezone = "Asia/Shanghai"\nextra_holidays = [2027-01-04]\n')
    calendar = load_amendment(path, None, NOW, IN_FORCE).calendar
    assert (calendar.timezone, calendar.work_start) == ("Asia/Shanghai", time(8))
    assert calendar.holidays == [date(2027, 1, 4)]


def test_the_overlay_still_names_a_bad_key_of_the_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"calendar\.extra_holiday: .*unknown key"):
        load_amendment(write(tmp_path, "[calendar]\nextra_holiday = [2027-01-04]\n"), None, NOW, IN_FORCE)
    with pytest.raises(UserError, match="calendar: required but missing"):
        load_amendment(write(tmp_path, 'timezone = "Asia/Shanghai"\n'), None, NOW, IN_FORCE)


class FakeClient:
    """Answers per case id: an AmendmentAnswer, or an exception to raise."""

    def __init__(self, answers: dict[str, AmendmentAnswer | Exception]) -> None:
        self.answers = answers

    async def amend(self, case_id: str, amendment: PolicyAmendment) -> AmendmentAnswer:
        answer = self.answers[case_id]
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_an_unexpected_error_is_one_case_s_refusal_and_the_summary_is_complete() -> None:
    amendment = PolicyAmendment(calendar=IN_FORCE.resolve([2027]))
    changed = AmendmentAnswer(outcome="changed", amendment_id=amendment.id, clocks=[ClockName.CLOSURE])
    unchanged = AmendmentAnswer(outcome="unchanged", amendment_id=amendment.id)
    client = FakeClient({
        "c1": changed,
        "c2": RuntimeError("connection reset by peer\nand a second line"),
        "c3": CaseError("case c3: amend is not accepted: the case is closed"),
        "c4": unchanged,
        "c5": KeyError("x"),
    })
    stream = io.StringIO()
    summary = await amend_all(client, ["c1", "c2", "c3", "c4", "c5"], amendment, 2,  # type: ignore[arg-type]
                              Progress(5, stream))
    assert summary.counts() == {"changed": 1, "unchanged": 1, "refused": 3}
    assert summary.changed == [{"case_id": "c1", "clocks": ["closure"]}]
    assert summary.unchanged == ["c4"]
    assert sorted(summary.refused, key=lambda r: r["case_id"]) == [
        {"case_id": "c2", "reason": "unexpected error: RuntimeError: connection reset by peer"},
        {"case_id": "c3", "reason": "amend is not accepted: the case is closed"},
        {"case_id": "c5", "reason": "unexpected error: KeyError: 'x'"},
    ]
    assert stream.getvalue().splitlines()[-1] == "amend: 5/5 cases, 1 changed, 1 unchanged, 3 refused"


class _SilentHandle:
    async def execute_update(self, *args: Any, **kwargs: Any) -> Any:
        raise WorkflowUpdateRPCTimeoutOrCancelledError()


class _SilentCaseClient(CaseClient):
    def handle(self, case_id: str) -> Any:
        return _SilentHandle()


async def test_a_case_that_does_not_answer_in_time_may_still_take_the_amendment() -> None:
    amendment = PolicyAmendment(calendar=IN_FORCE.resolve([2027]))
    client = _SilentCaseClient(None)  # type: ignore[arg-type]
    summary = await amend_all(client, ["c1"], amendment, 1, Progress(1, io.StringIO()))
    [refused] = summary.refused
    assert refused["case_id"] == "c1"
    assert refused["reason"].startswith("no answer in 30 s; is a worker running?")
    assert "may still be applied later" in refused["reason"] and "\n" not in refused["reason"]


def test_merchant_narrows_the_amended_cases_and_is_checked() -> None:
    assert merchant_query(None, "CaseTier = 'urgent'") == "CaseTier = 'urgent'"
    assert merchant_query("acme", None) == "MerchantId = 'acme'"
    assert merchant_query("acme", "CaseTier = 'urgent'") == "MerchantId = 'acme' AND (CaseTier = 'urgent')"
    # Cases opened before cases named their merchant belong to the default one.
    assert merchant_query("default", None) == "(MerchantId = 'default' OR MerchantId IS NULL)"
    with pytest.raises(UserError, match="^--merchant: "):
        merchant_query("acme' OR 'x' = 'x", None)
