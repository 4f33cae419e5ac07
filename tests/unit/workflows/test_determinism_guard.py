"""The workflow code runs passed through the sandbox (workflows/sandbox.py), so the sandbox does not
stop it reading the clock or a random source. This reads the code instead: no module of the
workflow's import closure in `workflows` or `cases` calls any of them."""

import ast
from pathlib import Path

import pytest

from runtime.deployment.build import workflow_sources

# Each one differs between a run and its replay, however it is reached (`datetime.now`,
# `dt.datetime.now`, an alias of the class): an attribute of these names is refused anywhere.
FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "urandom", "getenv", "environ", "getpid", "uuid1", "uuid4",
                        "monotonic", "perf_counter", "token_hex", "token_bytes"}
# And these, called or imported from their module (`time.time`, `from time import time`).
FORBIDDEN = {("time", "time"), ("time", "sleep"), ("asyncio", "sleep"), ("os", "environ"), ("os", "getenv"),
             ("os", "urandom"), ("uuid", "uuid1"), ("uuid", "uuid4"), ("time", "monotonic")}
FORBIDDEN_MODULES = {"random", "secrets", "socket", "subprocess", "threading"}

# What the workflow classes run: the converter and the sandbox set-up are part of the build, but run
# outside workflow code. The record's input and the activity contracts are built in workflow code.
RUN = ("workflows.case_workflow", "workflows.webhook_delivery")
IN_WORKFLOW = ("activities.record_input", "activities.contracts")
MODULES = sorted(
    (n, p) for n, p in workflow_sources(RUN).items() if n.split(".")[0] in {"workflows", "cases"} or n in IN_WORKFLOW
)


def offences(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else ""
            # `workflow.now()` is the workflow's own clock, the same on replay.
            if (node.attr in FORBIDDEN_ATTRIBUTES and base != "workflow") or (base, node.attr) in FORBIDDEN:
                found.append(f"{where} {base or '...'}.{node.attr}")
        elif isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            if node.module in FORBIDDEN_MODULES:
                found.append(f"{where} from {node.module}")
            found += [f"{where} from {node.module} import {a.name}" for a in node.names
                      if (node.module, a.name) in FORBIDDEN]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"open", "__import__"}:
            found.append(f"{where} {node.func.id}()")
    return sorted(found)


def test_the_closure_is_the_workflow_code() -> None:
    names = {n for n, _ in MODULES}
    assert {"workflows.case_workflow", "workflows.webhook_delivery", "cases.core.machine"} <= names


@pytest.mark.parametrize(("name", "path"), MODULES, ids=[n for n, _ in MODULES])
def test_no_workflow_module_reads_a_clock_a_random_source_or_the_environment(name: str, path: Path) -> None:
    assert offences(path) == []


def test_the_guard_finds_what_it_looks_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nfrom datetime import datetime as DT\nfrom time import time\nx = DT.now()\n"
        "y = dt.datetime.utcnow()\nopen('f')\n__import__('os')\n"
    )
    assert offences(bad) == [
        "bad.py:1 import random", "bad.py:3 from time import time", "bad.py:4 DT.now", "bad.py:5 ....utcnow",
        "bad.py:6 open()", "bad.py:7 __import__()",
    ]
