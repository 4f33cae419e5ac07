"""The API's pure parts: its settings, the batch's line reader, action bodies and signed cursors."""

from __future__ import annotations

import json

import pytest

from cases.actions.registry import ACTION_MODELS
from runtime.settings import SettingsError
from starter.api.action_bodies import body_model
from starter.api.batch_routes import MAX_LINE_BYTES, parse_lines
from starter.api.config import ApiSettings
from starter.api.signing import SigningKeys

INTAKE = {
    "order_id": "1", "customer": {"id": "c"}, "channel": "app", "category": "other",
    "description": "d", "order_amount": "1.00",
}


def test_settings_default_to_localhost_and_refuse_bad_values() -> None:
    assert (ApiSettings.from_env({}).host, ApiSettings.from_env({}).port) == ("127.0.0.1", 8000)
    assert ApiSettings.from_env({"AFTERSALES_API_BIND": "0.0.0.0:9000"}).port == 9000
    for env, name in [
        ({"AFTERSALES_API_BIND": "nowhere"}, "AFTERSALES_API_BIND"),
        ({"AFTERSALES_API_RATE_PER_MINUTE": "lots"}, "AFTERSALES_API_RATE_PER_MINUTE"),
        ({"AFTERSALES_API_RATE_PER_MINUTE": "0"}, "AFTERSALES_API_"),
    ]:
        with pytest.raises(SettingsError, match=name):
            ApiSettings.from_env(env)


def test_action_bodies_leave_out_what_the_key_sets() -> None:
    for action in ACTION_MODELS:
        fields = set(body_model(action).model_fields)
        assert not fields & {"actor", "role"}
        assert fields == set(ACTION_MODELS[action].model_fields) - {"actor", "role"}
    assert body_model("rate").model_json_schema()["properties"]["score"]["maximum"] == 5


def test_batch_lines_are_read_one_by_one_and_named() -> None:
    body = b"\n".join([
        json.dumps(INTAKE | {"case_id": "a1"}).encode(),
        b"",
        b"{broken",
        json.dumps(INTAKE | {"case_id": "a1"}).encode(),
        json.dumps(INTAKE).encode(),
        b'"text"',
        b"x" * (MAX_LINE_BYTES + 1),
    ])
    results, intakes = parse_lines(body, "system-1", "recall-7")
    assert [r.line for r in results] == [1, 3, 4, 5, 6, 7]  # the blank line 2 is no line of the batch
    errors = {r.line: r.error for r in results if r.error}
    assert set(errors) == {3, 4, 6, 7}
    assert "not JSON" in errors[3] and "line 1" in errors[4] and "object" in errors[6] and "bytes" in errors[7]
    assert [i.case_id for i in intakes][0] == "a1"
    # A line without a case id gets one from the Idempotency-Key and its line number: a resend opens nothing new.
    again = parse_lines(body, "system-1", "recall-7")[1]
    assert intakes[1].case_id == again[1].case_id and intakes[1].case_id.startswith("ik-")
    assert parse_lines(body, "system-2", "recall-7")[1][1].case_id != intakes[1].case_id


def test_a_merchant_key_batch_opens_its_own_merchant_cases_only() -> None:
    body = b"\n".join([
        json.dumps(INTAKE | {"case_id": "a1"}).encode(),
        json.dumps(INTAKE | {"case_id": "a2", "merchant_id": "acme"}).encode(),
        json.dumps(INTAKE | {"case_id": "a3", "merchant_id": "globex"}).encode(),
        json.dumps(INTAKE).encode(),
    ])
    results, intakes = parse_lines(body, "system-1", "recall-7", "acme")
    assert [(i.case_id, i.merchant_id) for i in intakes][:2] == [("a1", "acme"), ("a2", "acme")]
    assert results[2].error is not None and results[2].error.startswith("merchant_id: ")
    # The same principal and Idempotency-Key at another merchant is another case.
    assert intakes[2].case_id != parse_lines(body, "system-1", "recall-7")[1][3].case_id
    # A platform key may open the same case id for two merchants in one batch: two cases.
    both = b"\n".join(json.dumps(INTAKE | {"case_id": "a1", "merchant_id": m}).encode() for m in ("acme", "globex"))
    assert [i.key for i in parse_lines(both, "platform-1", None)[1]] == ["acme~a1", "globex~a1"]


def test_cursors_are_signed_and_rotate() -> None:
    old = SigningKeys(current="s1", secrets={"s1": b"a" * 32})
    cursor = old.sign_cursor(b"page-token")
    assert old.open_cursor(cursor) == b"page-token"
    assert old.open_cursor(cursor[:-1] + ("A" if cursor[-1] != "A" else "B")) is None
    assert old.open_cursor("!!") is None and old.open_cursor("") is None
    rotated = SigningKeys(current="s2", secrets={"s1": b"a" * 32, "s2": b"b" * 32})
    assert rotated.open_cursor(cursor) == b"page-token"  # issued before the rotation
    assert SigningKeys(current="s3", secrets={"s3": b"c" * 32}).open_cursor(cursor) is None
