"""Settings read from the environment, once, for the CLI, the worker and the local stack."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from temporalio.envconfig import ClientConfigProfile


class Settings(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "aftersales"
    database_url: str | None = None
    policy_path: Path | None = None
    home: Path = Path(".aftersales")
    ui_port: int = 8233
    codec_keys: str | None = None
    # How to reach Temporal beyond the address and namespace (TLS, mutual TLS, API key), as
    # the SDK's environment configuration reads it: the TEMPORAL_* variables, and the profile
    # file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), like every other Temporal tool. Secrets never
    # come from files in the repository or from command-line flags (which show up in `ps`).
    temporal_profile: ClientConfigProfile = ClientConfigProfile()
    # The codec server's and the external providers' variables, as given; each part parses its
    # own group (`codec_server.config`, `activities.http_providers`) and names the bad variable.
    codec_variables: dict[str, str] = {}
    provider_variables: dict[str, str] = {}
    # The outbox dispatcher: a worker runs one beside itself unless told not to (when a
    # deployment runs `aftersales dispatch` on its own instead), and each delivers this many
    # cases at once.
    worker_dispatch: bool = True
    dispatch_concurrency: int = 8
    # Where the worker serves Prometheus metrics; None serves none. All interfaces by default, for
    # a scraper on another host or container; the local stack keeps them on 127.0.0.1.
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    # The worker's build in the worker deployment; None takes the image's, else the source hash
    # (runtime/deployment/build.py). Set only to serve a pinned build with a hotfix.
    build_id: str | None = None

    def codec_key_spec(self) -> str | None:
        """Encryption keys for payloads: AFTERSALES_CODEC_KEYS, else the local stack's key file."""
        if self.codec_keys:
            return self.codec_keys
        local = self.home / "codec.keys"
        return local.read_text().strip() if local.is_file() else None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        for old, new in _RENAMED.items():
            if env.get(old):
                raise TemporalConfigError(f"{old} is now {new} (the Temporal SDK's own name); rename it")
        profile = load_temporal_profile(env)
        return cls(
            temporal_address=profile.address or "localhost:7233",
            temporal_namespace=profile.namespace or "default",
            task_queue=env.get("AFTERSALES_TASK_QUEUE") or "aftersales",
            database_url=env.get("DATABASE_URL") or None,
            policy_path=Path(env["AFTERSALES_POLICY"]) if env.get("AFTERSALES_POLICY") else None,
            home=Path(env.get("AFTERSALES_HOME") or ".aftersales"),
            ui_port=int(env.get("AFTERSALES_UI_PORT") or 8233),
            codec_keys=env.get("AFTERSALES_CODEC_KEYS") or None,
            temporal_profile=profile,
            codec_variables=_group(env, "AFTERSALES_CODEC_", exclude={"AFTERSALES_CODEC_KEYS"}),
            provider_variables=_group(env, "AFTERSALES_PROVIDER_"),
            worker_dispatch=_flag(
                "AFTERSALES_WORKER_DISPATCH", env.get("AFTERSALES_WORKER_DISPATCH"), default=True
            ),
            dispatch_concurrency=_count(
                "AFTERSALES_DISPATCH_CONCURRENCY", env.get("AFTERSALES_DISPATCH_CONCURRENCY"), default=8
            ),
            metrics_port=_port("AFTERSALES_METRICS_PORT", env.get("AFTERSALES_METRICS_PORT")),
            metrics_host=(env.get("AFTERSALES_METRICS_HOST") or "").strip() or "0.0.0.0",
            build_id=_build_id("AFTERSALES_BUILD_ID", env.get("AFTERSALES_BUILD_ID")),
        )


def _group(env: Mapping[str, str], prefix: str, exclude: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(prefix) and k not in exclude}


def _flag(name: str, raw: str | None, *, default: bool) -> bool:
    value = (raw or "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _count(name: str, raw: str | None, *, default: int) -> int:
    value = (raw or "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _port(name: str, raw: str | None) -> int | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"{name} must be a TCP port (1-65535), got {value!r}")
    return int(value)


def _build_id(name: str, raw: str | None) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    # Temporal writes a version as `deployment.build` in places, so a dot would be ambiguous.
    if len(value) > 64 or not all(c.isalnum() or c in "-_" for c in value):
        raise SettingsError(f"{name} must be up to 64 letters, digits, '-' or '_', got {value!r}")
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# Names this engine used before it read the SDK's environment configuration; refused, not ignored,
# so a deployment that still sets them cannot fall back to a plaintext connection unnoticed.
_RENAMED = {
    "TEMPORAL_TLS_CA": "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_KEY": "TEMPORAL_TLS_CLIENT_KEY_PATH",
}

# The variables the SDK's environment configuration reads for the client (documented by Temporal).
TEMPORAL_CLIENT_VARIABLES = frozenset({
    "TEMPORAL_CONFIG_FILE", "TEMPORAL_PROFILE", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_GRPC_META",
})


class SettingsError(ValueError):
    """A setting in the environment cannot be used; the message is one line naming it."""


class TemporalConfigError(SettingsError):
    """The Temporal profile file or variables cannot be read; the message is one line."""


def load_temporal_profile(env: Mapping[str, str]) -> ClientConfigProfile:
    try:
        return ClientConfigProfile.load(override_env_vars=dict(env))
    except Exception as err:  # the SDK's loader raises its own error types
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TemporalConfigError(f"Temporal client configuration: {first}") from err
