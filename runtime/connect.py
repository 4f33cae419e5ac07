"""Connecting to Temporal with the project's one data converter."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from runtime.settings import Settings
from workflows.codec import parse_keys
from workflows.converter import data_converter


def converter_for(settings: Settings) -> DataConverter:
    spec = settings.codec_key_spec()
    return data_converter(parse_keys(spec) if spec else None)


class ConnectionSettingsError(ValueError):
    """TLS settings that cannot work: a missing file, or a certificate without its key."""


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS when asked for or implied by any TLS file; mutual TLS when a client cert is given."""
    if not (settings.tls or settings.tls_ca or settings.tls_cert or settings.tls_key):
        return False
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConnectionSettingsError(
            "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together for mutual TLS"
        )

    def read(path: Path | None, name: str) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as err:
            raise ConnectionSettingsError(f"{name}: cannot read {path} ({err.strerror})") from err

    return TLSConfig(
        server_root_ca_cert=read(settings.tls_ca, "TEMPORAL_TLS_CA"),
        client_cert=read(settings.tls_cert, "TEMPORAL_TLS_CERT"),
        client_private_key=read(settings.tls_key, "TEMPORAL_TLS_KEY"),
        domain=settings.tls_server_name,
    )


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter_for(settings),
        tls=tls_config(settings),
        api_key=settings.api_key,
    )
