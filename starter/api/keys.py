"""API keys: created, listed, revoked and checked against their hashes in PostgreSQL.

A key reads `ak_<id>_<secret>`. The id finds the row; the secret is compared with its stored
SHA-256 in constant time. Only `create` ever sees the secret, and it returns it once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import asyncpg
from pydantic import BaseModel, ConfigDict

from cases.actions.roles import Role
from cases.ids import is_merchant_id

PREFIX = "ak_"
# Longer than any key this module makes, so a header of megabytes is refused unread.
MAX_KEY_LENGTH = 128
PRINCIPAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_KEY = re.compile(r"^ak_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$")


class KeyError_(ValueError):
    """A key command's input is wrong (an unknown role, a bad principal, an unknown id)."""


class ApiKey(BaseModel):
    """What a key is, without its secret: what `keys list` prints and a request runs as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    principal: str
    role: Role
    # The merchant whose cases the key sees and acts on; None for a platform key.
    merchant_id: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class CreatedKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: ApiKey
    secret: str  # the whole `ak_…` string, shown this once


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def valid_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise KeyError_(f"role: {raw!r} is not one of {', '.join(r.value for r in Role)}") from None


# The names the engine gives the buyer's own link and itself: no key may act under them.
RESERVED_PRINCIPALS = frozenset({"customer", "system"})


def valid_principal(raw: str) -> str:
    if not PRINCIPAL.match(raw):
        raise KeyError_(
            f"principal: {raw[:70]!r} must be 1-64 letters, digits or . _ @ -, starting with a letter or digit"
        )
    if raw in RESERVED_PRINCIPALS:
        raise KeyError_(f"principal: {raw!r} is reserved for the engine; choose another name")
    return raw


class KeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, principal: str, role: Role | str, merchant_id: str | None = None) -> CreatedKey:
        """A key of `merchant_id` (a registered merchant), or of the platform without one."""
        principal = valid_principal(principal)
        role = valid_role(role) if isinstance(role, str) else role
        if merchant_id is not None and not is_merchant_id(merchant_id):
            raise KeyError_(f"merchant_id: {merchant_id[:40]!r} is not a merchant id")
        if merchant_id is not None and role == Role.ARBITER:
            # An arbiter rules between buyer and merchant: never one of the merchant's own.
            raise KeyError_("role: an arbiter is the platform's; create the key without a merchant")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO api_keys (id, principal, role, secret_hash, merchant_id)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *",
                key_id, principal, role.value, _hash(secret), merchant_id,
            )
        except asyncpg.ForeignKeyViolationError:
            raise KeyError_(
                f"merchant_id: {merchant_id!r} is not registered; add it with `aftersales merchants add`"
            ) from None
        assert row is not None
        return CreatedKey(key=_key(row), secret=f"{PREFIX}{key_id}_{secret}")

    async def list(self, *, include_revoked: bool = False) -> list[ApiKey]:
        rows = await self._pool.fetch(
            "SELECT * FROM api_keys WHERE $1 OR revoked_at IS NULL ORDER BY created_at, id", include_revoked
        )
        return [_key(r) for r in rows]

    async def get(self, key_id: str) -> ApiKey | None:
        row = await self._pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", key_id)
        return _key(row) if row else None

    async def revoke(self, key_id: str) -> ApiKey:
        row = await self._pool.fetchrow(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *", key_id
        )
        if row is None:
            raise KeyError_(f"key {key_id[:40]!r}: no such key")
        return _key(row)

    async def authenticate(self, presented: str) -> ApiKey | None:
        """The live key the presented string is, or None (unknown, wrong secret or revoked)."""
        if len(presented) > MAX_KEY_LENGTH:
            return None
        match = _KEY.match(presented)
        if match is None:
            return None
        key_id, secret = match.groups()
        row = await self._pool.fetchrow(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING *", key_id
        )
        if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _hash(secret)):
            return None
        return _key(row)


def _key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        principal=row["principal"],
        role=Role(row["role"]),
        merchant_id=row["merchant_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
