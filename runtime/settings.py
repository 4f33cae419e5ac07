"""Settings read from the environment, once, for the CLI, the worker and the local stack."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel


class Settings(BaseModel):
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "aftersales"
    database_url: str | None = None
    policy_path: Path | None = None
    home: Path = Path(".aftersales")
    ui_port: int = 8233
    codec_keys: str | None = None
    # Connection security: secrets only ever come from the environment, never from files in
    # the repository or from command-line flags (which show up in `ps`).
    tls: bool = False
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_server_name: str | None = None
    api_key: str | None = None

    def codec_key_spec(self) -> str | None:
        """Encryption keys for payloads: AFTERSALES_CODEC_KEYS, else the local stack's key file."""
        if self.codec_keys:
            return self.codec_keys
        local = self.home / "codec.keys"
        return local.read_text().strip() if local.is_file() else None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS") or "localhost:7233",
            temporal_namespace=env.get("TEMPORAL_NAMESPACE") or "default",
            task_queue=env.get("AFTERSALES_TASK_QUEUE") or "aftersales",
            database_url=env.get("DATABASE_URL") or None,
            policy_path=Path(env["AFTERSALES_POLICY"]) if env.get("AFTERSALES_POLICY") else None,
            home=Path(env.get("AFTERSALES_HOME") or ".aftersales"),
            ui_port=int(env.get("AFTERSALES_UI_PORT") or 8233),
            codec_keys=env.get("AFTERSALES_CODEC_KEYS") or None,
            tls=(env.get("TEMPORAL_TLS") or "").lower() in ("1", "true", "yes"),
            tls_ca=Path(env["TEMPORAL_TLS_CA"]) if env.get("TEMPORAL_TLS_CA") else None,
            tls_cert=Path(env["TEMPORAL_TLS_CERT"]) if env.get("TEMPORAL_TLS_CERT") else None,
            tls_key=Path(env["TEMPORAL_TLS_KEY"]) if env.get("TEMPORAL_TLS_KEY") else None,
            tls_server_name=env.get("TEMPORAL_TLS_SERVER_NAME") or None,
            api_key=env.get("TEMPORAL_API_KEY") or None,
        )
