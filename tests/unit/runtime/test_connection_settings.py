"""Connection security settings: TLS, mutual TLS and API keys through the SDK's environment
configuration (the TEMPORAL_* variables and the profile file), with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from runtime.connect import ConnectionSettingsError, connect_options, tls_config
from runtime.settings import Settings, TemporalConfigError


@pytest.fixture(autouse=True)
def no_profile_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A developer's own ~/.config/temporalio/temporal.toml must not leak into these tests.
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def test_plain_by_default() -> None:
    assert tls_config(Settings.from_env()) is False
    options = connect_options(Settings.from_env())
    assert (options["target_host"], options["namespace"]) == ("localhost:7233", "default")


def test_tls_and_mtls_read_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ca", "cert", "key"):
        (tmp_path / f"{name}.pem").write_bytes(f"-- {name} --".encode())
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "aftersales")
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "ca.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(tmp_path / "cert.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(tmp_path / "key.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    monkeypatch.setenv("TEMPORAL_API_KEY", "secret-api-key")
    settings = Settings.from_env()
    assert (settings.temporal_address, settings.temporal_namespace) == ("temporal.internal:7233", "aftersales")
    options = connect_options(settings)
    config = options["tls"]
    assert isinstance(config, TLSConfig)
    assert config.server_root_ca_cert == b"-- ca --"
    assert config.client_cert == b"-- cert --" and config.client_private_key == b"-- key --"
    assert config.domain == "temporal.internal"
    assert options["api_key"] == "secret-api-key"


def test_a_profile_file_configures_the_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text('[profile.prod]\naddress = "prod.example:7233"\nnamespace = "cases"\napi_key = "k"\n')
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profile))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    settings = Settings.from_env()
    assert (settings.temporal_address, settings.temporal_namespace) == ("prod.example:7233", "cases")
    # An API key turns TLS on, with the system's roots.
    assert connect_options(settings)["tls"] is True


def test_tls_flag_alone_uses_system_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    config = tls_config(Settings.from_env())
    assert isinstance(config, TLSConfig) and config.server_root_ca_cert is None


def test_cert_without_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cert.pem").write_text("x")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(tmp_path / "cert.pem"))
    with pytest.raises(ConnectionSettingsError, match="must be set together"):
        connect_options(Settings.from_env())


def test_missing_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "absent.pem"))
    with pytest.raises(ConnectionSettingsError, match="absent.pem"):
        connect_options(Settings.from_env())


def test_a_broken_profile_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "temporal.toml"
    broken.write_text("[profile.default\n")
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(broken))
    with pytest.raises(TemporalConfigError) as caught:
        Settings.from_env()
    assert "\n" not in str(caught.value) and "TOML" in str(caught.value)


def test_the_engines_old_tls_names_are_refused_with_the_new_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CA", "/etc/ca.pem")
    with pytest.raises(TemporalConfigError, match="TEMPORAL_TLS_SERVER_CA_CERT_PATH"):
        Settings.from_env()
