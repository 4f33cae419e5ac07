"""Fixtures for the pure case-machine tests: only the shipped policy, no server of any kind.

This `policy` fixture shadows the one in tests/conftest.py on purpose, so nothing here ever
depends on the session fixtures that start a Temporal test server or PostgreSQL.
"""

from __future__ import annotations

import pytest

from cases.policy.snapshot import Policy, load_policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(None)
