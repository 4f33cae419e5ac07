"""Connection security settings: TLS and mutual TLS from the environment only, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from runtime.connect import ConnectionSettingsError, tls_config
from runtime.settings import Settings


def test_plain_by_default() -> None:
    assert tls_config(Settings()) is False


def test_tls_and_mtls_read_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"-- {name} --".encode())
    monkeypatch.setenv("TEMPORAL_TLS_CA", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "cert.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret-api-key")
    settings = Settings.from_env()
    config = tls_config(settings)
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert == b"-- ca --"
    assert config.client_cert == b"-- cert --" and config.client_private_key == b"-- key --"
    assert config.domain == "temporal.internal"
    assert settings.api_key == "secret-api-key"


def test_tls_flag_alone_uses_system_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    config = tls_config(Settings.from_env())
    assert isinstance(config, TLSConfig) and config.server_root_ca_cert is None


def test_cert_without_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    with pytest.raises(ConnectionSettingsError, match="must be set together"):
        tls_config(Settings(tls_cert=tmp_path / "cert.pem"))


def test_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConnectionSettingsError, match="TEMPORAL_TLS_CA: cannot read"):
        tls_config(Settings(tls_ca=tmp_path / "absent.pem"))
