"""The codec server's configuration: read from the environment, checked, and frozen.

`CodecServerConfig.from_env` reads `AFTERSALES_CODEC_TOKEN` (required, at least 16 characters),
`AFTERSALES_CODEC_PORT` (8081), `AFTERSALES_CODEC_HOST` (127.0.0.1; 0.0.0.0 in a container) and
`AFTERSALES_CODEC_ORIGINS` (comma-separated, `http://localhost:8233`, never `*`). Anything missing
or invalid raises `CodecServerError` with a one-line message, which the command prints as is. The
codec keys themselves come from `Settings.codec_key_spec()`, not from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_PORT = 8081
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ORIGINS = ("http://localhost:8233",)
# A token short enough to guess would make the bearer check decorative.
MIN_TOKEN_LENGTH = 16


class CodecServerError(Exception):
    """The codec server cannot start: a setting is missing or invalid. The message is one line."""


@dataclass(frozen=True)
class CodecServerConfig:
    token: str
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    origins: tuple[str, ...] = DEFAULT_ORIGINS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CodecServerConfig:
        """Parse the AFTERSALES_CODEC_* variables (`Settings.codec_variables`)."""
        token = (env.get("AFTERSALES_CODEC_TOKEN") or "").strip()
        if not token:
            raise CodecServerError(
                "AFTERSALES_CODEC_TOKEN is not set; the codec server refuses to serve "
                "decrypted payloads without a bearer token"
            )
        if len(token) < MIN_TOKEN_LENGTH:
            raise CodecServerError(
                f"AFTERSALES_CODEC_TOKEN is too short ({len(token)} characters, "
                f"at least {MIN_TOKEN_LENGTH})"
            )
        port_text = (env.get("AFTERSALES_CODEC_PORT") or str(DEFAULT_PORT)).strip()
        try:
            port = int(port_text)
        except ValueError:
            raise CodecServerError(f"AFTERSALES_CODEC_PORT: not a port number: {port_text!r}") from None
        if not 0 <= port <= 65535:
            raise CodecServerError(f"AFTERSALES_CODEC_PORT: out of range: {port}")
        origins = _parse_origins(env.get("AFTERSALES_CODEC_ORIGINS"))
        host = (env.get("AFTERSALES_CODEC_HOST") or DEFAULT_HOST).strip()
        return cls(token=token, port=port, host=host, origins=origins)


def _parse_origins(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return DEFAULT_ORIGINS
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        if origin == "*":
            # A wildcard cannot be combined with credentials, and would hand the keys' power
            # to any page the operator happens to open.
            raise CodecServerError("AFTERSALES_CODEC_ORIGINS: '*' is not allowed; list the UI origins")
        if not origin.startswith(("http://", "https://")):
            raise CodecServerError(
                f"AFTERSALES_CODEC_ORIGINS: {origin!r} is not an origin such as http://localhost:8233"
            )
    return origins
