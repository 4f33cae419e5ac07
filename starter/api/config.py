"""The API's own settings, from AFTERSALES_API_* variables: where it listens and its limits."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from runtime.settings import SettingsError

DEFAULT_BIND = "127.0.0.1:8000"


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Per key, in a one-minute window counted in PostgreSQL (every replica shares it).
    requests_per_minute: int = Field(default=600, ge=1)
    # Per merchant, over all of its keys.
    merchant_requests_per_minute: int = Field(default=3000, ge=1)
    # A batch opens at most this many cases a second, so a recall of thousands does not starve
    # the workers of the cases already open.
    batch_cases_per_second: float = Field(default=100.0, gt=0)
    # How long a customer link lasts unless the request asks for less.
    customer_link_hours: int = Field(default=168, ge=1, le=24 * 90)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiSettings:
        bind = (env.get("AFTERSALES_API_BIND") or DEFAULT_BIND).strip()
        host, sep, port = bind.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise SettingsError(f"AFTERSALES_API_BIND: {bind[:80]!r} is not HOST:PORT")
        values: dict[str, object] = {"host": host.strip("[]"), "port": int(port)}
        numbers = {
            "requests_per_minute": ("AFTERSALES_API_RATE_PER_MINUTE", env.get("AFTERSALES_API_RATE_PER_MINUTE")),
            "merchant_requests_per_minute": (
                "AFTERSALES_API_MERCHANT_RATE_PER_MINUTE", env.get("AFTERSALES_API_MERCHANT_RATE_PER_MINUTE")
            ),
            "batch_cases_per_second": ("AFTERSALES_API_BATCH_PER_SECOND", env.get("AFTERSALES_API_BATCH_PER_SECOND")),
            "customer_link_hours": ("AFTERSALES_API_LINK_HOURS", env.get("AFTERSALES_API_LINK_HOURS")),
        }
        for field, (name, raw) in numbers.items():
            if raw:
                try:
                    values[field] = float(raw) if field == "batch_cases_per_second" else int(raw)
                except ValueError:
                    raise SettingsError(f"{name}: {raw[:40]!r} is not a number") from None
        try:
            return cls.model_validate(values)
        except ValueError as err:
            raise SettingsError(f"AFTERSALES_API_*: {err}") from None
