"""The `aftersales` command line: JSON on stdout, and one line with exit status 2 for user errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from starter.client import CaseClient
from tests.conftest import TEST_CODEC_KEYS, case_worker
from tests.support.factories import intake

ROOT = Path(__file__).resolve().parents[2]


def _env(address: str, task_queue: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "AFTERSALES_TASK_QUEUE": task_queue,
        "PYTHONPATH": str(ROOT),
        "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS,
        **(extra or {}),
    }


def run_cli(*args: str, address: str = "127.0.0.1:1", task_queue: str = "aftersales",
            stdin: str | None = None, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        input=stdin, capture_output=True, text=True, env=_env(address, task_queue, env),
        timeout=60, cwd=ROOT,
    )


async def run_cli_async(*args: str, address: str, task_queue: str,
                        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Like run_cli, but keeps the event loop free so an in-process worker can serve the CLI."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "starter.cli", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=_env(address, task_queue), cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
    assert proc.returncode is not None
    return subprocess.CompletedProcess(list(args), proc.returncode, out.decode(), err.decode())


def assert_one_line_user_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.stdout == ""


def test_open_invalid_json_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"order_id": "1",,}')
    assert_one_line_user_error(run_cli("open", str(bad)), "invalid JSON", "line 1")


def test_open_missing_order_id_names_the_field() -> None:
    data = intake().model_dump(mode="json")
    del data["order_id"]
    assert_one_line_user_error(run_cli("open", "-", stdin=json.dumps(data)), "order_id", "Field required")


def test_open_bad_nested_field_names_the_path() -> None:
    data = intake().model_dump(mode="json")
    data["customer"]["email"] = "not-an-email"
    assert_one_line_user_error(run_cli("open", "-", stdin=json.dumps(data)), "customer.email")


def test_open_missing_file() -> None:
    assert_one_line_user_error(run_cli("open", "/nonexistent/case.json"), "no such file")


def test_unknown_command_and_unknown_action_exit_2() -> None:
    assert run_cli("frobnicate").returncode == 2
    assert_one_line_user_error(run_cli("act", "c1", "teleport"), "unknown action 'teleport'")


def test_act_with_invalid_data_json() -> None:
    assert_one_line_user_error(run_cli("act", "c1", "note", "--data", "{nope"), "--data", "invalid JSON")


@pytest.mark.devserver
async def test_open_show_act_list_against_dev_server(dev_server, dev_client, pool, policy, tmp_path):
    case = intake(order_id=f"CLI-{uuid.uuid4().hex[:6]}")
    path = tmp_path / "case.json"
    path.write_text(case.model_dump_json())
    async with case_worker(dev_client, pool, policy) as task_queue:
        def run(*a: str, **k: str):  # type: ignore[no-untyped-def]
            return run_cli_async(*a, address=dev_server.address, task_queue=task_queue, **k)

        opened = await run("open", str(path))
        assert opened.returncode == 0, opened.stderr
        body = json.loads(opened.stdout)
        assert body["case_id"] == case.case_id
        assert body["workflow_id"] == f"case-{case.case_id}"
        assert body["tier"] == "general"

        shown = await run("show", case.case_id)
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["status"] == "registered"

        acted = await run("act", case.case_id, "acknowledge", "--data", '{"actor": "agent-1"}')
        assert acted.returncode == 0, acted.stderr
        assert json.loads(acted.stdout)["status"] == "acknowledged"

        refused = await run("act", case.case_id, "rate", "--data", '{"score": 6}')
        assert_one_line_user_error(refused, "rate.score")

        wrong_time = await run("act", case.case_id, "confirm")
        assert_one_line_user_error(wrong_time, "confirm is not allowed while the case is acknowledged")

        unknown = await run("show", "no-such-case")
        assert_one_line_user_error(unknown, "no-such-case", "not found")

        # Bad input started nothing: only the one good case exists for this order.
        state = await CaseClient(dev_client, task_queue).state(case.case_id)
        assert state.last_seq > 0
        missing = intake(order_id=case.order_id)
        data = missing.model_dump(mode="json")
        del data["customer"]
        assert_one_line_user_error(await run("open", "-", stdin=json.dumps(data)), "customer")
        try:
            await CaseClient(dev_client, task_queue).state(missing.case_id)
            raise AssertionError("a case was started from invalid input")
        except Exception as err:  # noqa: BLE001
            assert "not found" in str(err)


def test_worker_with_a_bad_policy_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text((ROOT / "cases" / "default_policy.toml").read_text().replace(
        'first_response = "1h"', 'first_response = "1x"', 1))
    result = run_cli("worker", env={"AFTERSALES_POLICY": str(policy), "DATABASE_URL": "postgresql://x@/y"})
    assert_one_line_user_error(result, "first_response", "1x")


def test_up_refuses_a_taken_port_naming_it() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("up", address=f"127.0.0.1:{port}")
    assert result.returncode == 2, result.stderr
    assert f"port {port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_codec_server_without_token_exits_2() -> None:
    result = run_cli("codec-server", env={"AFTERSALES_CODEC_TOKEN": ""})
    assert result.returncode == 2
    assert "AFTERSALES_CODEC_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_replay_of_golden_files_and_of_a_broken_file(tmp_path: Path) -> None:
    golden = sorted((ROOT / "tests" / "histories").glob("*/*.json"))
    result = run_cli("replay", *map(str, golden))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ok  ") == len(golden)
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": ')
    assert_one_line_user_error(run_cli("replay", str(broken)), "broken.json", "invalid JSON")


def test_migrate_is_harmless_to_repeat(postgres_dsn: str, pool: object) -> None:
    # `pool` migrates the session's database first, whichever test happens to run before this one.
    for _ in range(2):
        result = run_cli("migrate", env={"DATABASE_URL": postgres_dsn})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"applied": []}


@pytest.mark.devserver
async def test_list_replay_and_demo_against_dev_server(dev_server, dev_client, pool, policy):
    async with case_worker(dev_client, pool, policy) as task_queue:
        def run(*a: str):  # type: ignore[no-untyped-def]
            return run_cli_async(*a, address=dev_server.address, task_queue=task_queue)

        demo = await run("demo")
        assert demo.returncode == 0, demo.stderr
        opened = json.loads(demo.stdout)
        assert {c["tier"] for c in opened} == {"urgent", "complex", "general"}
        statuses = {c["status"] for c in opened}
        assert statuses >= {"registered", "acknowledged", "awaiting_customer", "awaiting_approval"}
        # The last one is being resolved when its update returns, then awaits confirmation.
        assert statuses & {"resolving", "awaiting_confirmation"}
        approval = next(c for c in opened if c["status"] == "awaiting_approval")

        for _ in range(50):
            query = f"CaseStatus = 'awaiting_approval' AND WorkflowId = '{approval['workflow_id']}'"
            listed = await run("list", "--query", query)
            assert listed.returncode == 0, listed.stderr
            if json.loads(listed.stdout):
                break
            await asyncio.sleep(0.2)
        assert [c["case_id"] for c in json.loads(listed.stdout)] == [approval["case_id"]]

        replayed = await run("replay", "--workflow-id", approval["workflow_id"])
        assert replayed.returncode == 0, replayed.stderr
        assert replayed.stdout.strip() == f"ok   {approval['workflow_id']}"

        bad_query = await run("list", "--query", "CaseTier = ")
        assert bad_query.returncode == 2 and "Traceback" not in bad_query.stderr
        for case in opened:
            if case["status"] in ("registered", "acknowledged", "awaiting_customer", "awaiting_approval"):
                await CaseClient(dev_client, task_queue).act(case["case_id"], "withdraw", {"reason": "demo over"})
