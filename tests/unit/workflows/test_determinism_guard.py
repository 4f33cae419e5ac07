"""The workflow code runs passed through the sandbox (workflows/sandbox.py), so the sandbox does not
stop it reading the clock or a random source. This reads the code instead: no module of the
workflow's import closure in `workflows` or `cases` calls any of them."""

import ast
from pathlib import Path

import pytest

from runtime.deployment.build import workflow_sources

# Each one differs between a run and its replay.
FORBIDDEN = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "monotonic"), ("time", "perf_counter"), ("time", "sleep"),
    ("uuid", "uuid1"), ("uuid", "uuid4"), ("os", "urandom"), ("os", "getenv"), ("os", "environ"),
    ("asyncio", "sleep"), ("secrets", "token_hex"), ("secrets", "token_bytes"),
}
FORBIDDEN_MODULES = {"random", "secrets", "socket", "subprocess", "threading"}

# What the workflow classes run: the converter and the sandbox set-up are part of the build, but run
# outside workflow code.
RUN = ("workflows.case_workflow", "workflows.webhook_delivery")
MODULES = sorted((n, p) for n, p in workflow_sources(RUN).items() if n.split(".")[0] in {"workflows", "cases"})


def offences(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN:
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} import {a.name}" for a in node.names if a.name in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module in FORBIDDEN_MODULES:
            found.append(f"{path.name}:{node.lineno} from {node.module}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append(f"{path.name}:{node.lineno} open()")
    return sorted(found)


def test_the_closure_is_the_workflow_code() -> None:
    names = {n for n, _ in MODULES}
    assert {"workflows.case_workflow", "workflows.webhook_delivery", "cases.core.machine"} <= names


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[n for n, _ in MODULES])
def test_no_workflow_module_reads_a_clock_a_random_source_or_the_environment(name: str, path: Path) -> None:
    assert offences(path) == []


def test_the_guard_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import random\nfrom datetime import datetime\nx = datetime.now()\nopen('f')\n")
    assert offences(bad) == ["bad.py:1 import random", "bad.py:3 datetime.now", "bad.py:4 open()"]
