"""`aftersales amend` and `aftersales calendar check` as an operator runs them.

Bad input is one line and exit status 2 before anything is sent (the address is unreachable, so
anything sent would fail differently). Against a dev server: running cases are amended, a case
whose worker predates amendments refuses with its reason, an interrupted run resumes where it
stopped, and the same amendment again leaves everything unchanged.
"""

import json
import uuid
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.worker import Worker

from cases.models import CaseState, ClockName
from starter.client import CaseClient
from tests.conftest import memory_worker
from tests.support.calendar_years import plain_day, unannounced_cn_year
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.system.test_cli import assert_one_line_user_error, run_cli, run_cli_async
from worker import in_memory_activities
from workflows.case_workflow import AfterSalesCase
from workflows.run_input import CaseInput
from workflows.sandbox import workflow_runner

ANNOUNCED = "[calendar]\nextra_holidays = [2027-01-04, 2027-01-05]\nextra_workdays = [2027-01-09]\n"


# Outside the sandbox: this module imports test helpers the sandbox would refuse to load.
@workflow.defn(name="AfterSalesCase", sandboxed=False)
class PreviousRelease(AfterSalesCase):
    """The case workflow as a worker still on the release before amendments runs it."""

    amend = None

    @workflow.run
    async def run(self, intake: CaseInput) -> CaseState:
        return await super().run(intake)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("calendar", "needles"),
    [
        (None, ("missing.toml: file not found",)),
        ("[calendar]\nextra_holiday = [2027-01-04]\n", ("calendar.extra_holiday", "unknown key")),
        ('[calendar]\nextra_holidays = ["2027-02-30"]\n', ("calendar.extra_holidays.0", "2027-02-30")),
        ("[calendar]\nextra_holidays = [2027-01-04\n", ("TOML syntax error",)),
        ('timezone = "Asia/Shanghai"\n', ("calendar: required but missing",)),
        ('[calendar]\ntimezone = "Mars/Olympus"\n', ("calendar.timezone", "unknown time zone")),
    ],
)
def test_a_bad_calendar_file_is_one_line_and_nothing_is_sent(tmp_path: Path, calendar, needles) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "missing.toml") if calendar is None else write(tmp_path, "amended.toml", calendar)
    assert_one_line_user_error(run_cli("amend", "--calendar", path), *needles)


def test_bad_targets_and_batch_are_one_line(tmp_path: Path) -> None:
    calendar = write(tmp_path, "amended.toml", ANNOUNCED)
    approval = write(tmp_path, "approval.toml", '[targets.general]\napproval = "4h"\n')
    assert_one_line_user_error(run_cli("amend", "--calendar", calendar, "--targets", approval),
                               "targets: general.approval: not a tier target")
    typo = write(tmp_path, "typo.toml", '[targets.general]\nclosure = "7 weeks"\n')
    assert_one_line_user_error(run_cli("amend", "--calendar", calendar, "--targets", typo),
                               "targets.general.closure", "bad duration")
    assert_one_line_user_error(run_cli("amend", "--calendar", calendar, "--batch", "0"), "--batch")


def test_calendar_check_warns_for_an_unannounced_year_and_lists_the_days(tmp_path: Path) -> None:
    # The year the installed holidays package only estimates, asked of it: 2027 until it learns
    # that year's make-up days, a later one after.
    year = unannounced_cn_year()
    unannounced = run_cli("calendar", "check", str(year))
    assert unannounced.returncode == 0, unannounced.stderr
    [warning] = unannounced.stderr.strip().splitlines()
    assert f"CN {year} has no make-up working days" in warning
    assert "extra_workdays" in warning and "aftersales amend --calendar" in warning
    body = json.loads(unannounced.stdout)
    assert body["workdays"] == [] and body["holidays"][0]["date"] == f"{year}-01-01"

    announced = run_cli("calendar", "check", "2026")
    assert announced.returncode == 0 and announced.stderr == ""
    assert "2026-02-14" in [d["date"] for d in json.loads(announced.stdout)["workdays"]]

    saturday = plain_day(year, (5,))
    policy = Path(__file__).resolve().parents[2] / "cases" / "default_policy.toml"
    fixed = policy.read_text(encoding="utf-8").replace(
        "extra_workdays = []", f"extra_workdays = [{saturday.isoformat()}]"
    )
    checked = run_cli("calendar", "check", str(year),
                      env={"AFTERSALES_POLICY": write(tmp_path, "policy.toml", fixed)})
    assert checked.returncode == 0 and checked.stderr == ""
    assert json.loads(checked.stdout)["workdays"] == [
        {"date": saturday.isoformat(), "weekday": "Sat", "name": "make-up working day (调休)",
         "source": "extra_workdays"}
    ]
    assert_one_line_user_error(run_cli("calendar", "check", "next"), "YEAR must be a year")


@pytest.mark.devserver
async def test_amend_running_cases_resumes_and_is_idempotent(dev_server, dev_client, policy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    order = f"AMEND-{uuid.uuid4().hex[:6]}"
    calendar = write(tmp_path, "amended.toml", ANNOUNCED)
    targets = write(tmp_path, "targets.toml", '[targets.general]\nclosure = "8wd"\n')
    old_queue = f"tq-old-{uuid.uuid4()}"
    old_worker = Worker(dev_client, task_queue=old_queue, workflows=[PreviousRelease],
                        activities=in_memory_activities(policy), workflow_runner=workflow_runner())
    async with memory_worker(dev_client, policy) as task_queue, old_worker:
        client = CaseClient(dev_client, task_queue, policy)
        first, second = intake(order_id=order), intake(order_id=order)
        for case in (first, second):
            await client.open(case)
        stale = intake(order_id=order)
        await CaseClient(dev_client, old_queue, policy).open(stale)
        closed = intake(order_id=order)
        await client.open(closed)
        await client.act(closed.case_id, "withdraw", {"reason": "resolved elsewhere"})
        await client.handle(closed.case_id).result()
        assert first.case_id and second.case_id and stale.case_id
        running = f"OrderId = '{order}' AND ExecutionStatus = 'Running'"
        await eventually(lambda: client.list(running), lambda found: len(found) == 3, "visibility to list the cases")

        async def amend(query: str) -> dict:  # type: ignore[type-arg]
            done = await run_cli_async("amend", "--calendar", calendar, "--targets", targets, "--query", query,
                                       "--batch", "2", address=dev_server.address, task_queue=task_queue)
            assert done.returncode == 0, done.stderr
            assert "amend: " in done.stderr and "Traceback" not in done.stderr
            return json.loads(done.stdout)  # type: ignore[no-any-return]

        # Interrupted after the first case: only it is amended.
        partial = await amend(f"OrderId = '{order}' AND WorkflowId = 'case-{first.case_id}'")
        assert partial["counts"] == {"changed": 1, "unchanged": 0, "refused": 0}
        assert partial["changed"] == [{"case_id": first.case_id, "clocks": ["closure"]}]

        everything = await amend(f"OrderId = '{order}'")
        assert everything["amendment_id"] == partial["amendment_id"]
        assert everything["counts"] == {"changed": 1, "unchanged": 1, "refused": 1}
        assert everything["changed"] == [{"case_id": second.case_id, "clocks": ["closure"]}]
        assert everything["unchanged"] == [first.case_id]
        [refused] = everything["refused"]
        assert refused == {"case_id": stale.case_id,
                           "reason": "its worker runs a release without the amend update; deploy first, then run again"}
        assert closed.case_id not in json.dumps(everything)  # a finished case is not listed

        again = await amend(f"OrderId = '{order}'")
        assert again["counts"] == {"changed": 0, "unchanged": 2, "refused": 1}
        state = await client.state(second.case_id)
        assert state.clocks[ClockName.CLOSURE].target_label == "8wd"
        assert "Li Wei" not in json.dumps(again) and "li@example.com" not in json.dumps(again)
        await client.act(stale.case_id, "withdraw", {"reason": "done"})
