"""The real `temporal` CLI, through `aftersales codec-server`, against a real `aftersales up`.

Operations staff and backends in other languages work a case with the `temporal` CLI and a remote
codec: `--codec-endpoint` and `--codec-auth "Bearer …"`. This test runs that path end to end: the
local stack as `make run` starts it, the codec server beside it, and `workflow start` with a JSON
input, `query`, `describe`, `show`, `update execute` and `signal`. Without the codec, the stored
history must hold no phone number in the clear.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.processes import free_port
from devstack.temporal_server import temporal_binary

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cli-test-token-0123456789abcdef"
PHONE = "+8613912345678"
STARTUP_SECONDS = 120


@dataclass
class Stack:
    address: str
    codec_url: str
    api_url: str
    home: Path

    def temporal(self, *args: str, codec: bool = True) -> subprocess.CompletedProcess[str]:
        flags = ["--address", self.address, "--namespace", "default"]
        if codec:
            flags += ["--codec-endpoint", self.codec_url, "--codec-auth", f"Bearer {TOKEN}"]
        return subprocess.run(
            [temporal_binary(), *args, *flags], capture_output=True, text=True, timeout=60,
            env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")},
        )

    def temporal_json(self, *args: str, codec: bool = True) -> Any:
        result = self.temporal(*args, "--output", "json", codec=codec)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def _wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {path.read_text(errors='replace')}")
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen in {path} within {STARTUP_SECONDS} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("up")
    port, ui_port, api_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AFTERSALES_HOME": str(home),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "AFTERSALES_UI_PORT": str(ui_port),
        "AFTERSALES_CODEC_TOKEN": TOKEN,
        "AFTERSALES_API_BIND": f"127.0.0.1:{api_port}",
    }
    for name in ("DATABASE_URL", "AFTERSALES_CODEC_KEYS", "AFTERSALES_TASK_QUEUE"):
        env.pop(name, None)
    up_log, codec_log = home / "up.out", home / "codec.out"
    with open(up_log, "wb") as out:
        up = subprocess.Popen([sys.executable, "-m", "starter.cli", "up"], cwd=ROOT, env=env,
                              stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    codec = None
    try:
        _wait_for_text(up_log, "local stack is running", up)
        # The codec server reads the key the stack generated in its home, as an operator's would.
        # It binds a port of its own choosing (port 0) and names it, so no other process can take
        # the port between choosing and binding it.
        with open(codec_log, "wb") as out:
            codec = subprocess.Popen([sys.executable, "-m", "starter.cli", "codec-server", "--port", "0"],
                                     cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _wait_for_text(codec_log, "listening on", codec)
        listening = re.search(r"listening on (http://127\.0\.0\.1:\d+)", codec_log.read_text(errors="replace"))
        assert listening, codec_log.read_text(errors="replace")
        yield Stack(
            address=f"127.0.0.1:{port}", codec_url=listening.group(1),
            api_url=f"http://127.0.0.1:{api_port}", home=home,
        )
    finally:
        if codec is not None:
            _stop(codec)
        _stop(up)


def _intake(case_id: str) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "order_id": "7001",
        "customer": {"id": "cust-cli", "name": "Chen Jing", "phone": PHONE, "email": "chen@example.cn"},
        "channel": "phone",
        "category": "product_quality",
        "description": "The kettle stops heating after a minute.",
        "order_amount": "189.00",
    }


def _query_state(stack: Stack, workflow_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        result = stack.temporal("workflow", "query", "--workflow-id", workflow_id, "--name", "state",
                                "--output", "json")
        if result.returncode == 0:
            answer = json.loads(result.stdout)
            state: dict[str, Any] = answer["queryResult"][0] if "queryResult" in answer else answer
            return state
        # A case answers its state once it has captured its policy, a moment after the start.
        if "still starting" not in result.stderr or time.monotonic() > deadline:
            raise AssertionError(result.stderr)
        time.sleep(0.2)


def test_the_temporal_cli_works_a_case_through_the_codec_server(stack: Stack) -> None:
    case_id = f"cli{os.getpid()}"
    workflow_id = f"case-{case_id}"
    started = stack.temporal(
        "workflow", "start", "--type", "AfterSalesCase", "--task-queue", "aftersales",
        "--workflow-id", workflow_id, "--input", json.dumps(_intake(case_id)),
    )
    assert started.returncode == 0, started.stderr

    state = _query_state(stack, workflow_id)
    assert state["case_id"] == case_id and state["status"] == "registered"
    assert state["intake"]["customer"]["phone"] == PHONE  # decoded by the codec server

    described = stack.temporal_json("workflow", "describe", "--workflow-id", workflow_id)
    assert json.dumps(described).count("AfterSalesCase") >= 1

    updated = stack.temporal(
        "workflow", "update", "execute", "--workflow-id", workflow_id, "--name", "acknowledge",
        "--input", json.dumps({"actor": "agent-cli", "message": "on it"}),
    )
    assert updated.returncode == 0, updated.stderr
    assert '"acknowledged"' in updated.stdout or "acknowledged" in updated.stdout

    refused = stack.temporal(
        "workflow", "update", "execute", "--workflow-id", workflow_id, "--name", "rate",
        "--input", json.dumps({"score": 9}),
    )
    assert refused.returncode != 0 and "rate.score" in refused.stderr + refused.stdout

    seq = _query_state(stack, workflow_id)["last_seq"]
    signalled = stack.temporal(
        "workflow", "signal", "--workflow-id", workflow_id, "--name", "add_note",
        "--input", json.dumps({"actor": "agent-cli", "text": "called the customer back"}),
    )
    assert signalled.returncode == 0, signalled.stderr
    deadline = time.monotonic() + 30
    while (state := _query_state(stack, workflow_id))["last_seq"] == seq:
        assert time.monotonic() < deadline, "the signalled note was never applied"
        time.sleep(0.2)
    assert state["status"] == "acknowledged"

    # JSON output carries payload data in base64, so read every payload's bytes.
    decoded = _payload_texts(stack.temporal_json("workflow", "show", "--workflow-id", workflow_id))
    assert any(PHONE in t for t in decoded)
    assert any("called the customer back" in t for t in decoded)

    stored = stack.temporal_json("workflow", "show", "--workflow-id", workflow_id, codec=False)
    assert len(stored["events"]) > 10
    raw = _payload_texts(stored)
    assert raw and not any(PHONE in t or PHONE.lstrip("+") in t for t in raw)
    assert not any("called the customer back" in t for t in raw)
    assert PHONE not in json.dumps(stored)

    withdrawn = stack.temporal(
        "workflow", "update", "execute", "--workflow-id", workflow_id, "--name", "withdraw",
        "--input", json.dumps({"reason": "test over"}),
    )
    assert withdrawn.returncode == 0, withdrawn.stderr


def _payload_texts(history: Any) -> list[str]:
    """Every payload's data in a protobuf-JSON history, as text (undecodable bytes replaced)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and isinstance(node.get("data"), str):
                found.append(base64.b64decode(node["data"]).decode("utf-8", "replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(history)
    return found


def test_up_serves_the_api_with_a_key_per_role(stack: Stack) -> None:
    import httpx

    # The API starts beside the worker and writes the keys before it listens.
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{stack.api_url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not answer"
        time.sleep(0.2)
    keys = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (stack.home / "api-keys.env").read_text().splitlines()
        if line.startswith("export ")
    )
    assert set(keys) == {
        f"AFTERSALES_KEY_{r}" for r in ("SYSTEM", "AGENT", "REVIEWER", "SUPERVISOR", "WAREHOUSE", "ARBITER")
    }
    assert oct((stack.home / "api-keys.env").stat().st_mode & 0o777) == "0o600"
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        assert http.get("/openapi.json").status_code == 200
        listed = http.get("/v1/cases", headers={"Authorization": f"Bearer {keys['AFTERSALES_KEY_AGENT']}"})
        assert listed.status_code == 200, listed.text
        assert http.get("/v1/cases").status_code == 401


def _readme_api_walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The HTTP API", 1)[1].split("\n## ", 1)[0]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


def test_the_readme_curl_walkthrough_runs_as_written(stack: Stack) -> None:
    script = _readme_api_walkthrough()
    assert "curl" in script and "api-keys.env" in script
    # The stack here runs in its own home and on its own port; everything else is verbatim.
    script = script.replace(".aftersales/api-keys.env", str(stack.home / "api-keys.env"))
    script = script.replace("http://127.0.0.1:8000", stack.api_url)
    test_up_serves_the_api_with_a_key_per_role(stack)  # waits until the API answers
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script], cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["acknowledged", "awaiting_approval", "resolving"], result.stdout
    assert "awaiting_rating" in lines and ("closed" in lines or "follow_up" in lines), result.stdout
    assert lines[-1] == "1", result.stdout  # the recall's one bad line
