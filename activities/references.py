"""Deterministic references for side effects: the same idempotency key always names the same effect."""

import hashlib


def reference_for(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:16].upper()}"
