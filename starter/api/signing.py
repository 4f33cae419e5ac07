"""The API's signing secrets, shared by every replica through PostgreSQL.

They sign customer links and list cursors, so a link issued by one replica is honoured by all,
and a cursor the API did not give out is refused before it reaches Temporal. The newest secret
signs; every kept one verifies, so adding a row rotates without breaking links already out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

_ENSURE = """
INSERT INTO api_signing_keys (id, secret)
SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM api_signing_keys)
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class SigningKeys:
    current: str
    secrets: dict[str, bytes]

    @classmethod
    async def load(cls, pool: asyncpg.Pool) -> SigningKeys:
        await pool.execute(_ENSURE, f"s{secrets.token_hex(4)}", secrets.token_bytes(32))
        rows = await pool.fetch("SELECT id, secret FROM api_signing_keys ORDER BY created_at, id")
        return cls(current=rows[-1]["id"], secrets={r["id"]: bytes(r["secret"]) for r in rows})

    def sign_cursor(self, token: bytes) -> str:
        mac = hmac.new(self.secrets[self.current], b"cursor\n" + token, hashlib.sha256).digest()[:16]
        return _b64(mac + token)

    def open_cursor(self, cursor: str) -> bytes | None:
        """The page token inside a cursor this API signed, or None for anything else."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except ValueError:
            return None
        mac, token = raw[:16], raw[16:]
        for secret in self.secrets.values():
            expected = hmac.new(secret, b"cursor\n" + token, hashlib.sha256).digest()[:16]
            if hmac.compare_digest(mac, expected):
                return token
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
