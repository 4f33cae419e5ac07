"""The worker's Worker Versioning identity: one deployment, and one build per workflow code.

Every case is pinned to the build it started on (docs/DEPLOY.md), so the workflow code holds one
path and a change that would not replay ships as a new build. The build id is a hash of the
sources the workflow code runs: the workflow modules and every project module they import, read
from the files and not from what a process happens to have loaded, so the worker, `aftersales up`
and the image build agree. A change anywhere a replay could notice makes a new build; a change to
the API, the CLI or the reports does not. The image writes the id at build time
(`python -m runtime.deployment.build --write`), since it has no `.git` and need not hash again;
`AFTERSALES_BUILD_ID` overrides both.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from pathlib import Path

from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import WorkerDeploymentConfig

DEPLOYMENT_NAME = "aftersales"
# Written next to this module by the image build; never committed.
WRITTEN = Path(__file__).with_name("BUILD_ID")
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
    """12 hex digits of SHA-256 over the workflow modules' import closure, in module order."""
    digest = hashlib.sha256()
    for name, path in sorted(workflow_sources().items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def workflow_sources() -> dict[str, Path]:
    """Module name -> source file, for the workflow modules and the project modules they import."""
    found: dict[str, Path] = {}
    pending = list(WORKFLOW_MODULES)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = _source_of(name)
        if path is None:
            continue
        found[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        pending += _parents(name) + _imports(path, package)
    return found


def _source_of(name: str) -> Path | None:
    if name.split(".")[0] not in PROJECT_PACKAGES:
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(path: Path, package: str) -> list[str]:
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
            # `from workflows import saga` names a module; `from cases.models import X` does not,
            # and finding no module of that name costs nothing.
            names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]


def main(argv: list[str]) -> int:
    """`python -m runtime.deployment.build [--write]`: print this checkout's build id (and write it)."""
    value = source_build_id()
    if argv[1:] == ["--write"]:
        WRITTEN.write_text(value + "\n", encoding="utf-8")
    print(value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
