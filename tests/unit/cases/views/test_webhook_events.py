"""The webhook allow-list covers every event the engine emits, and subscription input is checked."""

from __future__ import annotations

import ast
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from activities.webhooks.subscriptions import SubscriptionError, new_secret, valid_event_types, valid_url
from cases.models import CaseEvent
from cases.views.webhook_events import EVENT_TYPES, public_data

CASES = Path(__file__).resolve().parents[4] / "cases"


def emitted_event_types() -> set[str]:
    """Every event type the domain emits by name (`emit("x", ...)`, or `accept("x", ...)`)."""
    found: set[str] = set()
    for path in CASES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"emit", "accept"} and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_every_emitted_event_type_has_a_decided_payload_and_none_is_stale() -> None:
    assert emitted_event_types() == set(EVENT_TYPES)


def test_only_listed_fields_of_an_event_leave_and_an_unlisted_type_shows_nothing() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    rated = CaseEvent(seq=4, type="rated", actor="customer", at=at, data={"score": 2, "comment": "Li Wei, rude"})
    assert public_data(rated) == {"score": 2}
    new = CaseEvent(seq=5, type="something_new", actor="agent-1", at=at, data={"text": "Li Wei"})
    assert public_data(new) == {}


def test_event_types_are_known_deduplicated_and_star_wins() -> None:
    assert valid_event_types("opened, closed,opened") == ["opened", "closed"]
    assert valid_event_types("closed,*") == ["*"]
    for bad in ("", " , ", "registered", "opened,nope"):
        with pytest.raises(SubscriptionError, match="events"):
            valid_event_types(bad)


def test_urls_are_http_or_https_with_a_host_and_bounded() -> None:
    assert valid_url("https://orders.example.com/hooks?k=1") == "https://orders.example.com/hooks?k=1"
    assert valid_url("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080/x"
    for bad in ("ftp://x.example/", "https://", "orders.example.com", "https://a b.example/",
                "http://x.example:99999/", "https://x.example/" + "a" * 2000):
        with pytest.raises(SubscriptionError, match="url"):
            valid_url(bad)


def test_secrets_are_standard_webhooks_secrets_of_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
