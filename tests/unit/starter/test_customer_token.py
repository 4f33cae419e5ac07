"""Customer links: signed, expiring, for one case, with rotating keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from starter.api.customer_token import MAX_TOKEN_LENGTH, TokenError, issue, verify

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
KEYS = {"s1": b"k" * 32}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return loaded


def with_claims(token: str, **changes: Any) -> str:
    """The same token with its payload rewritten and the original signature kept."""
    prefix, _, signature = token.split(".")
    payload = b64(json.dumps(claims_of(token) | changes, separators=(",", ":")).encode())
    return f"{prefix}.{payload}.{signature}"


def test_round_trip_and_expiry_at_the_exact_instant() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    assert token.startswith("cst1.") and len(token) < MAX_TOKEN_LENGTH
    claims = verify(token, KEYS, NOW + timedelta(minutes=59, seconds=59))
    assert (claims.case_id, claims.key_id, claims.expires_at) == ("case-1", "s1", NOW + timedelta(hours=1))
    with pytest.raises(TokenError, match="^expired$"):
        verify(token, KEYS, NOW + timedelta(hours=1))
    with pytest.raises(TokenError, match="^expired$"):
        verify(token, KEYS, NOW + timedelta(days=400))


def test_the_token_names_the_case_and_key_and_nothing_personal() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    assert claims_of(token) == {"c": "case-1", "e": int((NOW + timedelta(hours=1)).timestamp()), "k": "s1"}
    with pytest.raises(ValueError, match="positive"):
        issue("case-1", KEYS["s1"], "s1", NOW, timedelta(0))


@pytest.mark.parametrize("changes", [
    {"c": "case-2"},  # another case under this case's signature
    {"e": int((NOW + timedelta(days=365)).timestamp())},  # a longer life
])
def test_a_rewritten_payload_is_refused(changes: dict[str, Any]) -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    with pytest.raises(TokenError, match="^bad signature$"):
        verify(with_claims(token, **changes), KEYS, NOW)


def test_another_case_signature_and_foreign_keys_are_refused() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    other = issue("case-2", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    prefix, payload, signature = token.split(".")
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{prefix}.{other.split('.')[1]}.{signature}", KEYS, NOW)
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{prefix}.{payload}.{flipped}", KEYS, NOW)
    with pytest.raises(TokenError, match="bad signature"):
        verify(token, {"s1": b"x" * 32}, NOW)  # same key id, another secret
    with pytest.raises(TokenError, match="^unknown key$"):
        verify(token, {"s2": b"k" * 32}, NOW)
    with pytest.raises(TokenError, match="^unknown key$"):
        verify(with_claims(token, k="s9"), KEYS, NOW)
    rotated = {"s1": KEYS["s1"], "s2": b"n" * 32}
    assert verify(token, rotated, NOW).case_id == "case-1"  # issued before the rotation
    newer = issue("case-1", rotated["s2"], "s2", NOW, timedelta(hours=1))
    assert verify(newer, rotated, NOW).key_id == "s2"


def test_stray_characters_do_not_make_a_second_token() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    prefix, payload, signature = token.split(".")
    for variant in (f"{prefix}.{payload}.{signature}=", f"{prefix}.{payload}!.{signature}",
                    f"{prefix}.{payload}.{signature[:5]}\n{signature[5:]}"):
        with pytest.raises(TokenError, match="^malformed$"):
            verify(variant, KEYS, NOW)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def other_spellings(part: str) -> list[str]:
    """The same bytes written with another last character: base64's unused low bits changed."""
    decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    found = []
    for char in ALPHABET:
        other = part[:-1] + char
        if other != part and base64.urlsafe_b64decode(other + "=" * (-len(other) % 4)) == decoded:
            found.append(other)
    return found


def test_a_link_has_one_spelling() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    prefix, payload, signature = token.split(".")
    variants = [f"{prefix}.{payload}.{s}" for s in other_spellings(signature)]
    variants += [f"{prefix}.{p}.{signature}" for p in other_spellings(payload)]
    assert len(variants) >= 3  # a 32-byte MAC leaves two bits unused in its last character
    for variant in variants:
        with pytest.raises(TokenError, match="^malformed$"):
            verify(variant, KEYS, NOW)
    assert verify(token, KEYS, NOW).case_id == "case-1"


def payload_token(claims: Any) -> str:
    return f"cst1.{b64(json.dumps(claims).encode())}.{b64(b'x' * 32)}"


@pytest.mark.parametrize("garbage", [
    "", "cst1", "cst1..", "cst1.a.b.c", "ak_123_abc", "cst2.e30.AA", "cst1.!!!.AA", "cst1.e30.AA", "x" * 2000,
    "cst1." + "A" * 2000 + ".AA", "cst1.é.AA",
    payload_token([1, 2]), payload_token({"c": "case-1", "e": True, "k": "s1"}),
    payload_token({"c": 7, "e": 1, "k": "s1"}), payload_token({"c": "case-1", "e": "soon", "k": "s1"}),
    payload_token({"c": "case-1", "k": "s1"}),
])
def test_garbage_is_malformed(garbage: str) -> None:
    with pytest.raises(TokenError, match="^malformed$"):
        verify(garbage, KEYS, NOW)


def test_an_oversized_token_is_refused_before_it_is_read() -> None:
    token = issue("c" * 64, KEYS["s1"], "s1", NOW, timedelta(hours=1))
    assert verify(token, KEYS, NOW).case_id == "c" * 64  # the longest case id fits easily
    padded = token + "A" * (MAX_TOKEN_LENGTH + 1 - len(token))
    with pytest.raises(TokenError, match="^malformed$"):
        verify(padded, KEYS, NOW)


def test_an_absurd_expiry_signed_by_us_is_malformed_not_a_crash() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    body = b64(json.dumps({"c": "case-1", "e": 10**20, "k": "s1"}, separators=(",", ":")).encode())
    mac = hmac.new(KEYS["s1"], f"cst1.{body}".encode(), hashlib.sha256).digest()
    with pytest.raises(TokenError, match="^malformed$"):
        verify(f"cst1.{body}.{b64(mac)}", KEYS, NOW)
    assert verify(token, KEYS, NOW).case_id == "case-1"
