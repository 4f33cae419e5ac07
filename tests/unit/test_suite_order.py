"""The suite's slowest-first list names files that exist, so a renamed file cannot drop out of it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SLOWEST_FIRST

ROOT = Path(__file__).resolve().parents[2]


def test_every_slowest_first_file_exists() -> None:
    missing = [path for path in SLOWEST_FIRST if not (ROOT / path).is_file()]
    assert not missing
    assert len(set(SLOWEST_FIRST)) == len(SLOWEST_FIRST)
