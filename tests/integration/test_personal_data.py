"""Personal data: encrypted in every Temporal payload, readable by whoever holds the keys, rotated
by key id, and absent from the logs of a full case."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta

import pytest
from temporalio.api.common.v1 import Payload

from runtime.log import configure_logging
from starter.client import CaseClient
from tests.conftest import case_worker
from tests.support.clock import skip
from tests.support.factories import intake
from workflows.codec import ENCODING, CodecKeyError, EncryptionCodec, parse_keys

NAME, PHONE, EMAIL = "Zhang Xiaoming", "+8613912345678", "zhang.xm@example.cn"


def _person() -> dict[str, str]:
    return {"id": "cust-pii", "name": NAME, "phone": PHONE, "email": EMAIL}


async def _run_full_case(env, pool, policy):  # type: ignore[no-untyped-def]
    case = intake(customer=_person(), category="product_quality")
    async with case_worker(env.client, pool, policy) as tq:
        client = CaseClient(env.client, tq)
        await client.open(case)
        await client.act(case.case_id, "acknowledge", {"actor": "agent-1"})
        # Messages carry whatever the customer writes, contact details included.
        await client.act(case.case_id, "customer_message", {"text": f"Call me on {PHONE}, {NAME}"})
        await client.act(case.case_id, "agent_reply", {"actor": "agent-1", "text": f"Will do, {NAME}."})
        await client.act(case.case_id, "propose_resolution", {"actor": "agent-1", "type": "refund", "amount": "50"})
        await skip(env, timedelta(seconds=1))
        await client.act(case.case_id, "confirm", {})
        state = await client.act(case.case_id, "rate", {"score": 5})
        if state.status.value == "follow_up":
            await skip(env, timedelta(seconds=1))
            await client.act(case.case_id, "follow_up_result", {"outcome": "satisfied"})
        await client.handle(case.case_id).result()
        final = await client.state(case.case_id)
        history = await client.handle(case.case_id).fetch_history()
    return case, final, history


def _raw_text(history) -> str:  # type: ignore[no-untyped-def]
    """Everything the server stores for the case, with every payload's bytes decoded as text."""
    text = history.to_json()
    data = json.loads(text)
    blobs = []

    def walk(node):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    blobs.append(base64.b64decode(value).decode("utf-8", "replace"))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return text + "\n".join(blobs)


async def test_contact_details_never_reach_temporal_in_clear(env, pool, policy):
    case, final, history = await _run_full_case(env, pool, policy)
    assert final.intake.customer.phone == PHONE  # the keyholder sees everything
    raw = _raw_text(history)
    for secret in (NAME, PHONE, EMAIL, "Zhang", "zhang.xm"):
        assert secret not in raw
    assert ENCODING.decode() in raw or base64.b64encode(ENCODING).decode() in raw
    # Summaries stay readable for operations staff: they are plain strings by construction.
    assert "SLA (complex)" in raw or "record " in raw


async def test_logs_of_a_full_case_hold_no_contact_details(env, pool, policy, capfd):
    configure_logging()
    logging.getLogger().setLevel(logging.INFO)
    case, final, _ = await _run_full_case(env, pool, policy)
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("case_id") == case.case_id]
    assert any(line["event"] == "money moved" for line in mine)
    # Notifications (addressed to the customer, with the case's text) were queued with the
    # record, and the log says only how many.
    assert any(line["event"] == "case recorded" and line["notifications_queued"] > 0 for line in mine)
    assert all(line.get("workflow_id") == f"case-{case.case_id}" and line.get("activity") for line in mine)
    for secret in (NAME, PHONE, EMAIL):
        assert secret not in err


async def test_key_rotation_keeps_old_payloads_readable():
    old = parse_keys("k1:" + base64.b64encode(b"1" * 32).decode())
    rotated = parse_keys("k2:" + base64.b64encode(b"2" * 32).decode() + ",k1:" + base64.b64encode(b"1" * 32).decode())
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"phone": PHONE}).encode())
    [sealed_old] = await EncryptionCodec(old).encode([payload])
    assert sealed_old.metadata["encryption-key-id"] == b"k1" and PHONE.encode() not in sealed_old.data
    codec = EncryptionCodec(rotated)
    [sealed_new] = await codec.encode([payload])
    assert sealed_new.metadata["encryption-key-id"] == b"k2"
    assert await codec.decode([sealed_old, sealed_new]) == [payload, payload]
    with pytest.raises(CodecKeyError, match="unknown key id 'k2'"):
        await EncryptionCodec(old).decode([sealed_new])


@pytest.mark.parametrize("spec, message", [
    ("", "none given"),
    ("k1", "expected id:base64key"),
    ("k1:not base64!", "not valid base64"),
    ("k1:" + base64.b64encode(b"short").decode(), "must be 16, 24 or 32 bytes"),
])
def test_bad_key_configuration_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(CodecKeyError, match=message):
        parse_keys(spec)
