"""Connecting to Temporal: the SDK's environment configuration, and the project's one converter."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from runtime.settings import Settings
from workflows.codec import parse_keys
from workflows.converter import data_converter


def converter_for(settings: Settings, *, compress: bool = False) -> DataConverter:
    spec = settings.codec_key_spec()
    return data_converter(parse_keys(spec) if spec else None, compress=compress)


class ConnectionSettingsError(ValueError):
    """TLS settings that cannot work: an unreadable file, or a certificate without its key."""


def connect_options(settings: Settings) -> dict[str, Any]:
    """`Client.connect` keyword arguments from the profile, with the settled address and namespace."""
    tls = settings.temporal_profile.tls
    if tls is not None and (tls.client_cert is None) != (tls.client_private_key is None):
        raise ConnectionSettingsError(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together for mutual TLS"
        )
    try:
        options: dict[str, Any] = dict(settings.temporal_profile.to_client_connect_config())
    except OSError as err:
        raise ConnectionSettingsError(f"TLS: cannot read {err.filename} ({err.strerror})") from err
    options["target_host"] = settings.temporal_address
    options["namespace"] = settings.temporal_namespace
    return options


def tls_config(settings: Settings) -> TLSConfig | bool:
    """The TLS the connection will use: False, True (system roots) or a full TLSConfig."""
    tls: TLSConfig | bool = connect_options(settings).get("tls", False)
    return tls


async def connect(settings: Settings, runtime: Runtime | None = None, *, compress: bool = False) -> Client:
    """`compress` is for a worker's connection: its large payloads go compressed (workflows/codec.py)."""
    return await Client.connect(
        **connect_options(settings), data_converter=converter_for(settings, compress=compress), runtime=runtime
    )
