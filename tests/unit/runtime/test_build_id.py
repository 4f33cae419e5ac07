"""The worker's build id: a hash of what the workflow code runs, and of nothing else.

A change the workflow could notice on replay must make a new build, or the new code would serve
cases pinned to the old one; a change it cannot notice must not, or every API fix would strand
running cases on a build that has to keep running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.deployment import build
from runtime.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("cases", "workflows", "activities", "outbox", "runtime", "starter", "reports")


def test_the_hashed_sources_are_the_workflows_and_what_they_import() -> None:
    sources = build.workflow_sources()
    assert {"workflows.case_workflow", "workflows.webhook_delivery", "cases.core.machine", "cases.models",
            "activities.contracts", "workflows.saga", "workflows.converter", "workflows.codec"} <= set(sources)
    assert not [name for name in sources if name.split(".")[0] in {"starter", "reports", "devstack"}]
    assert all(path.suffix == ".py" and path.is_file() for path in sources.values())


def _checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "checkout"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__", "BUILD_ID"))
    return copy


def _build_of(checkout: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "runtime.deployment.build"],
        cwd=checkout, capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout.strip()


def test_only_a_change_the_workflow_runs_makes_a_new_build(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    first = _build_of(checkout)
    assert first == build.source_build_id() and len(first) == 12

    for path in ("starter/api/app.py", "reports/service/figures.py", "outbox/dispatcher.py"):
        _append(checkout / path, "\nCHANGED_ELSEWHERE = 1\n")
    machine = checkout / "cases" / "core" / "machine.py"
    _append(machine, "\n# a comment\n")
    machine.write_text(machine.read_text().replace('"""The case state machine', '"""The whole case machine', 1))
    assert _build_of(checkout) == first

    _append(machine, "\nCHANGED_DOMAIN = 1\n")
    second = _build_of(checkout)
    assert second != first
    _append(checkout / "workflows" / "saga.py", "\nCHANGED_SAGA = 1\n")
    assert _build_of(checkout) not in {first, second}


def test_the_id_is_written_only_into_an_installed_package(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    (checkout / "pyproject.toml").write_text("[project]\n")
    refused = subprocess.run(
        [sys.executable, "-m", "runtime.deployment.build", "--write"],
        cwd=checkout, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 2 and "installed package" in refused.stderr
    assert not (checkout / "runtime" / "deployment" / "BUILD_ID").exists()
    (checkout / "pyproject.toml").unlink()
    written = subprocess.run(
        [sys.executable, "-m", "runtime.deployment.build", "--write"],
        cwd=checkout, capture_output=True, text=True, timeout=60, check=True,
    )
    assert (checkout / "runtime" / "deployment" / "BUILD_ID").read_text().strip() == written.stdout.strip()


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def test_the_image_id_is_used_when_written_and_a_given_one_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = tmp_path / "BUILD_ID"
    monkeypatch.setattr(build, "WRITTEN", written)
    assert build.build_id() == build.source_build_id()
    written.write_text("from-the-image\n")
    assert build.build_id() == "from-the-image"
    assert build.build_id("hotfix-of-3012b1c356fe") == "hotfix-of-3012b1c356fe"


@pytest.mark.parametrize("bad", ["aftersales.3012b1", "with space", "x" * 65, "semi;colon"])
def test_a_build_id_temporal_could_misread_is_refused(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_BUILD_ID", bad)
    with pytest.raises(SettingsError, match="AFTERSALES_BUILD_ID"):
        Settings.from_env()


def test_a_worker_config_pins_every_workflow_to_its_build() -> None:
    config = build.worker_config("3012b1c356fe")
    assert config.use_worker_versioning
    assert config.default_versioning_behavior.name == "PINNED"
    assert (config.version.deployment_name, config.version.build_id) == ("aftersales", "3012b1c356fe")
