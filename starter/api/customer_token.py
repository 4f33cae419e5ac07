"""Signed, expiring links for one case: what a customer app holds to follow and answer that case.

A token reads `cst1.<payload>.<signature>`: the payload is the case id, the expiry and the id of
the signing key, as base64url JSON; the signature is HMAC-SHA256 over the prefix and payload with
that key. It carries no personal data, it cannot be mistaken for an API key (`ak_…`), and a key
id lets the signing secret rotate while links already out stay good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict

PREFIX = "cst1"
MAX_TOKEN_LENGTH = 1024
# Unpadded base64url only: the lenient decoder would skip stray characters, and then many strings
# would be the same token.
_PART = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(ValueError):
    """The token is not one this API issued for a live link; the message is a short reason."""


class CustomerClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    expires_at: datetime
    key_id: str


def issue(case_id: str, secret: bytes, key_id: str, now: datetime, ttl: timedelta) -> str:
    if ttl <= timedelta(0):
        raise ValueError("a customer link needs a positive lifetime")
    # Whole seconds: the link is good until the second it names, and not one beyond.
    expires = int((now + ttl).timestamp())
    payload = _b64(json.dumps({"c": case_id, "e": expires, "k": key_id}, separators=(",", ":")).encode())
    return f"{PREFIX}.{payload}.{_b64(_mac(secret, payload))}"


def verify(token: str, secrets: Mapping[str, bytes], now: datetime) -> CustomerClaims:
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("malformed")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise TokenError("malformed")
    _, payload, signature = parts
    if not (_PART.fullmatch(payload) and _PART.fullmatch(signature)):
        raise TokenError("malformed")
    try:
        decoded, mac = _unb64(payload), _unb64(signature)
        claims = json.loads(decoded)
        case_id, expires, key_id = claims["c"], claims["e"], claims["k"]
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed") from None
    # The last character of a base64 part carries unused bits: only the spelling this API writes
    # is the token, so a link has one form and cannot be varied into others that also work.
    if _b64(decoded) != payload or _b64(mac) != signature:
        raise TokenError("malformed")
    if not (isinstance(case_id, str) and type(expires) is int and isinstance(key_id, str)):
        raise TokenError("malformed")
    secret = secrets.get(key_id)
    if secret is None:
        raise TokenError("unknown key")
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise TokenError("bad signature")
    try:
        expires_at = datetime.fromtimestamp(expires, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("malformed") from None
    if now >= expires_at:
        raise TokenError("expired")
    return CustomerClaims(case_id=case_id, expires_at=expires_at, key_id=key_id)


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, f"{PREFIX}.{payload}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
