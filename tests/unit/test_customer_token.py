"""Customer links: signed, expiring, for one case, with rotating keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from starter.api.customer_token import TokenError, issue, verify

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
KEYS = {"s1": b"k" * 32}


def test_round_trip_and_expiry_at_the_exact_instant() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    assert token.startswith("cst1.")
    claims = verify(token, KEYS, NOW + timedelta(minutes=59, seconds=59))
    assert (claims.case_id, claims.key_id, claims.expires_at) == ("case-1", "s1", NOW + timedelta(hours=1))
    with pytest.raises(TokenError, match="expired"):
        verify(token, KEYS, NOW + timedelta(hours=1))


def test_tampering_and_foreign_keys_are_refused() -> None:
    token = issue("case-1", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    other = issue("case-2", KEYS["s1"], "s1", NOW, timedelta(hours=1))
    prefix, payload, signature = token.split(".")
    # Another case's payload under this signature, and the other way round.
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{prefix}.{other.split('.')[1]}.{signature}", KEYS, NOW)
    flipped = signature[:-2] + ("AA" if not signature.endswith("AA") else "BB")
    with pytest.raises(TokenError, match="bad signature"):
        verify(f"{prefix}.{payload}.{flipped}", KEYS, NOW)
    with pytest.raises(TokenError, match="bad signature"):
        verify(token, {"s1": b"x" * 32}, NOW)
    with pytest.raises(TokenError, match="unknown key"):
        verify(token, {"s2": b"k" * 32}, NOW)
    rotated = {"s1": KEYS["s1"], "s2": b"n" * 32}
    assert verify(token, rotated, NOW).case_id == "case-1"  # issued before the rotation


@pytest.mark.parametrize("garbage", [
    "", "cst1", "cst1..", "ak_123_abc", "cst2.e30.AA", "cst1.!!!.AA", "cst1.e30.AA", "x" * 2000,
    "cst1." + "A" * 2000 + ".AA",
])
def test_garbage_is_malformed(garbage: str) -> None:
    with pytest.raises(TokenError):
        verify(garbage, KEYS, NOW)
