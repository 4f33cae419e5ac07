"""AFTERSALES_METRICS_PORT: read once, refused clearly when it cannot be a port or cannot be bound."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from runtime.errors import UserError
from runtime.metrics import metrics_runtime
from runtime.settings import Settings, SettingsError


@pytest.fixture(autouse=True)
def no_profile_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))


def test_no_port_serves_no_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AFTERSALES_METRICS_PORT", raising=False)
    assert Settings.from_env().metrics_port is None


def test_a_port_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERSALES_METRICS_PORT", " 9464 ")
    assert Settings.from_env().metrics_port == 9464


@pytest.mark.parametrize("raw", ["http", "0", "70000", "-1", "94.64"])
def test_a_bad_port_names_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("AFTERSALES_METRICS_PORT", raw)
    with pytest.raises(SettingsError, match="AFTERSALES_METRICS_PORT must be a TCP port"):
        Settings.from_env()


def test_a_port_in_use_is_a_one_line_user_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"AFTERSALES_METRICS_PORT {port}: cannot serve metrics there"):
            metrics_runtime(port, host="127.0.0.1")
