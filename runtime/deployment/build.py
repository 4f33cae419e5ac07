"""The worker's Worker Versioning identity: one deployment, and one build per workflow code.

Every case is pinned to the build it started on (docs/DEPLOY.md), so the workflow code holds one
path and a change that would not replay ships as a new build. The build id is a hash of the code
the workflows run: the workflow modules, the sandbox and converter they run with, and every
project module these import (the activity modules included, for their names and inputs), read
from the files and not from what a process happens to have loaded, so the worker, `aftersales up`
and the image build agree. A change in any of them makes a new build, comments and docstrings
aside; a change to the API, the CLI, the reports, the outbox or the SQL does not. The image
writes the id at build time (`python -m runtime.deployment.build --write`), since it has no
`.git` and need not hash again; `AFTERSALES_BUILD_ID` overrides both.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from pathlib import Path

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

DEPLOYMENT_NAME = "aftersales"
# Written next to this module by the image build; never committed.
WRITTEN = Path(__file__).with_name("BUILD_ID")
# Where the project's top-level packages are: the checkout, or site-packages in the image.
ROOT = Path(__file__).parents[2]
# The workflow types a worker runs, the sandbox they run in and the converter of their payloads;
# what these import is what a replay depends on.
WORKFLOW_MODULES = (
    "workflows.case_workflow",
    "workflows.webhook_delivery",
    "workflows.sandbox",
    "workflows.converter",
)
# The project's own top-level packages: imports of anything else are libraries, pinned by the
# lock of the image, not by this hash.
PROJECT_PACKAGES = frozenset({"cases", "workflows", "activities", "outbox", "runtime"})


def build_id(given: str | None = None) -> str:
    """This worker's build: `given` (`Settings.build_id`, from AFTERSALES_BUILD_ID), else the id
    written at image build, else the hash of the sources."""
    if given:
        return given
    if WRITTEN.is_file():
        return WRITTEN.read_text(encoding="utf-8").strip()
    return source_build_id()


def worker_config(build: str) -> WorkerDeploymentConfig:
    """A versioned worker of `build`: every workflow it runs is pinned to it.

    The behaviour is the worker's default, not each `@workflow.defn`'s: a real server refuses a
    workflow task that names a behaviour from an unversioned worker, and the test workers run
    unversioned.
    """
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=DEPLOYMENT_NAME, build_id=build),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


def source_build_id() -> str:
    """12 hex digits of SHA-256 over the workflow modules' import closure, in module order.

    Each module counts by its syntax tree without docstrings, so a comment, a docstring or a
    reformatting is not a new build; any change to what the code does is.
    """
    digest = hashlib.sha256()
    for name, path in sorted(workflow_sources().items()):
        digest.update(name.encode() + b"\0" + _code_of(path).encode() + b"\0")
    return digest.hexdigest()[:12]


def workflow_sources(roots: tuple[str, ...] = WORKFLOW_MODULES) -> dict[str, Path]:
    """Module name -> source file, for the workflow modules (`roots`) and the project modules they import.

    Found on disk beside this package, never by importing: what a process has loaded must not
    change the answer.
    """
    found: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = _source_of(name)
        if path is None:
            raise ModuleNotFoundError(f"the workflow code imports {name}, which is not in {ROOT}")
        found[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pending += _parents(name) + _imports(path, package)
    return found


def _source_of(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(path: Path, package: str) -> list[str]:
    """The project modules `path` imports; `from a import b` names `a.b` when that is a module."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names += [
                f"{base}.{alias.name}" for alias in node.names if _source_of(f"{base}.{alias.name}") is not None
            ]
    return [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]


def _code_of(path: Path) -> str:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def main(argv: list[str]) -> int:
    """`python -m runtime.deployment.build [--write]`: print the build id of these sources; with
    `--write`, in an installed package (the image build) only, also keep it beside them."""
    value = source_build_id()
    if argv[1:] == ["--write"]:
        if (ROOT / "pyproject.toml").is_file():
            # A file left in a checkout would outlive the next edit and name the wrong build.
            print("--write is for an installed package (the image build); a checkout hashes its sources",
                  file=sys.stderr)
            return 2
        WRITTEN.write_text(value + "\n", encoding="utf-8")
    print(value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
