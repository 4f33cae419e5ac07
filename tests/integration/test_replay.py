"""Replay: the golden histories of every release still served replay on this code, a
nondeterministic edit is caught and named as one that needs a new deployment version, and a
history fetched from a live server replays too."""


from pathlib import Path

import pytest
from temporalio.worker import Replayer

from starter import replay
from starter.client import CaseClient
from starter.replay import load_history_file, replay_files, replay_histories
from tests.conftest import case_worker, codec_converter
from tests.support.changed_case import ChangedCase, PatchedCase
from tests.support.factories import intake
from tests.support.golden import RELEASE

RELEASES = Path(__file__).parent.parent / "histories"
HISTORIES = sorted((RELEASES / RELEASE).glob("*.json"))
EVERY_RELEASE = sorted(RELEASES.glob("*/*.json"))
MAIN_PATHS = {
    "general", "complex_follow_up", "urgent_approval", "approval_rejected_then_exchange",
    "dispute_reopen", "continue_as_new", "continue_as_new_run1", "return_refund", "return_lapsed",
    "inspection_failed_silent_pass", "repair_not_fixable_then_fixed", "conversation", "routing",
}


def test_every_main_path_has_a_golden_history() -> None:
    assert {p.stem for p in HISTORIES} >= MAIN_PATHS


def test_earlier_releases_are_kept_beside_this_one() -> None:
    assert {p.parent.name for p in EVERY_RELEASE} >= {"1.1.0", RELEASE}


async def test_golden_histories_of_every_release_still_served_replay_on_this_code() -> None:
    outcomes = await replay_files(EVERY_RELEASE, codec_converter())
    assert len(outcomes) == len(EVERY_RELEASE)
    failures = [(o.workflow_id, o.error) for o in outcomes if not o.ok]
    assert failures == []


async def test_nondeterministic_change_is_caught_and_named_as_a_new_version(monkeypatch) -> None:
    monkeypatch.setattr(replay, "AfterSalesCase", ChangedCase)
    outcomes = await replay_files(HISTORIES, codec_converter())
    failed = [o.error or "" for o in outcomes if not o.ok]
    # Fresh runs all start by capturing the policy, so each of those must fail; the continued
    # run starts from carried state and has no policy step.
    assert len(failed) >= len(HISTORIES) - 1
    assert all("nondeterminism" in f.lower() for f in failed), failed
    assert all(f.endswith(replay.NEW_VERSION_NEEDED) for f in failed), failed


async def test_the_same_change_as_a_patched_hotfix_replays_cleanly() -> None:
    from workflows.sandbox import workflow_runner

    replayer = Replayer(
        workflows=[PatchedCase], data_converter=codec_converter(), workflow_runner=workflow_runner()
    )

    async def histories():  # type: ignore[no-untyped-def]
        for path in HISTORIES:
            yield load_history_file(path)

    async with replayer.workflow_replay_iterator(histories()) as results:
        failures = [r.replay_failure async for r in results if r.replay_failure is not None]
    assert failures == []


@pytest.mark.devserver
async def test_history_fetched_from_dev_server_replays(dev_client, pool, policy) -> None:
    case = intake()
    async with case_worker(dev_client, pool, policy) as task_queue:
        client = CaseClient(dev_client, task_queue)
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        await client.act(case.case_id, "request_info", {"actor": "agent-1", "question": "photo?"})
        await client.act(case.case_id, "customer_reply", {"text": "here"})
        await client.act(case.case_id, "withdraw", {"reason": "resolved elsewhere"})
        history = await client.handle(case.case_id).fetch_history()
    [outcome] = await replay_histories([history], dev_client.data_converter)
    assert outcome.ok, outcome.error
    assert outcome.workflow_id == f"case-{case.case_id}"
