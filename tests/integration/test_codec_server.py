"""The remote codec server: decrypts for the Web UI only with the bearer token, answers CORS only
for the configured UI origins, round-trips payloads, and refuses bad input with a message."""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from codec_server.command import run_codec_server, serving
from codec_server.config import CodecServerConfig, CodecServerError
from codec_server.http import ALLOW_HEADERS, CodecHTTPServer
from devstack.processes import free_port
from runtime.settings import Settings
from tests.conftest import TEST_CODEC_KEYS
from workflows.codec import ENCODING, KEY_ID, EncryptionCodec, parse_keys

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-codec-token-0123456789"
UI = "http://localhost:8233"
PERSON = {"customer": {"id": "cust-9", "name": "Wang Fang", "phone": "+8613711112222"}}


@pytest.fixture(scope="module")
def codec() -> EncryptionCodec:
    return EncryptionCodec(parse_keys(TEST_CODEC_KEYS))


@pytest.fixture(scope="module")
def server(codec: EncryptionCodec) -> Iterator[CodecHTTPServer]:
    config = CodecServerConfig(token=TOKEN, port=0, origins=(UI, "https://temporal.example.com"))
    with serving(config, codec) as running:
        yield running


def call(
    server: CodecHTTPServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    sent = {"Content-Type": "application/json", "X-Namespace": "default", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        text = response.read()
        answer = json.loads(text) if text else None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        conn.close()


def encrypted(codec: EncryptionCodec, value: Any) -> Payload:
    [plain] = pydantic_data_converter.payload_converter.to_payloads([value])
    [sealed] = asyncio.run(codec.encode([plain]))
    return sealed


def as_json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def from_json(item: dict[str, Any]) -> Payload:
    return Payload(
        metadata={k: base64.b64decode(v) for k, v in item.get("metadata", {}).items()},
        data=base64.b64decode(item.get("data", "")),
    )


def test_decode_with_the_token_returns_plaintext_json(server, codec):  # type: ignore[no-untyped-def]
    sealed = encrypted(codec, PERSON)
    assert sealed.metadata["encoding"] == ENCODING and b"Wang Fang" not in sealed.data
    summary = pydantic_data_converter.payload_converter.to_payloads(["general · safety · order 1"])[0]
    status, headers, body = call(server, "POST", "/decode", {"payloads": [as_json(sealed), as_json(summary)]})
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    first, second = (from_json(p) for p in body["payloads"])
    assert first.metadata["encoding"] == b"json/plain"
    assert json.loads(first.data) == PERSON
    assert second == summary  # plain strings pass through untouched


def test_namespace_prefix_and_header_forms(server, codec):  # type: ignore[no-untyped-def]
    sealed = encrypted(codec, {"n": 1})
    for path in ("/default/decode", "/api/v1/default/decode/"):
        status, _, body = call(server, "POST", path, {"payloads": [as_json(sealed)]})
        assert status == 200, (path, body)
        assert json.loads(from_json(body["payloads"][0]).data) == {"n": 1}
    status, _, body = call(server, "POST", "/default/explode", {"payloads": []})
    assert status == 404


def test_token_as_first_path_segment_for_the_web_ui(server, codec):  # type: ignore[no-untyped-def]
    """The UI's data encoder setting is a URL, so staff enter `http://host:8081/<token>`."""
    sealed = encrypted(codec, PERSON)
    for path in (f"/{TOKEN}/decode", f"/{TOKEN}/default/decode"):
        status, _, body = call(server, "POST", path, {"payloads": [as_json(sealed)]}, token=None)
        assert status == 200, (path, body)
        assert json.loads(from_json(body["payloads"][0]).data) == PERSON
    for path in ("/not-the-token/decode", f"/{TOKEN[:-1]}/decode", "/default/decode"):
        status, _, body = call(server, "POST", path, {"payloads": [as_json(sealed)]}, token=None)
        assert status == 403, path
        assert "Wang" not in json.dumps(body)


def test_empty_payload_list_answers_the_same_shape(server):  # type: ignore[no-untyped-def]
    status, _, body = call(server, "POST", "/decode", {"payloads": []})
    assert (status, body) == (200, {"payloads": []})


def test_every_protobuf_json_form_of_payloads_is_accepted(server, codec):  # type: ignore[no-untyped-def]
    # Protobuf JSON writes an empty Payloads as `{}`: the temporal CLI sends exactly that for a
    # query without arguments, and must get an empty Payloads back, not a refusal.
    for empty in ({}, {"payloads": []}, {"payloads": None}):
        for operation in ("/decode", "/encode"):
            status, _, body = call(server, "POST", operation, empty)
            assert (status, body) == (200, {"payloads": []}), (operation, empty)
    sealed = encrypted(codec, {"n": 3})
    status, _, body = call(server, "POST", "/decode", {"payloads": [as_json(sealed)]})
    assert status == 200 and json.loads(from_json(body["payloads"][0]).data) == {"n": 3}
    for bad in ([], "payloads", {"payloads": {}}, {"payloads": [1]}, {"payload": []}):
        status, _, body = call(server, "POST", "/decode", bad)
        assert status == 400 and body["error"], bad


def test_no_token_is_401(server, codec):  # type: ignore[no-untyped-def]
    sealed = encrypted(codec, PERSON)
    status, headers, body = call(server, "POST", "/decode", {"payloads": [as_json(sealed)]}, token=None)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert "Wang" not in json.dumps(body)
    status, _, _ = call(server, "POST", "/decode", {"payloads": []}, token=None,
                        headers={"Authorization": f"Basic {base64.b64encode(TOKEN.encode()).decode()}"})
    assert status == 401
    # A large body is not read for a refusal: the answer comes at once and the connection closes.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /decode HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401") and b"Connection: close" in answer


def test_wrong_token_is_403(server, codec):  # type: ignore[no-untyped-def]
    sealed = encrypted(codec, PERSON)
    for wrong in ("nope", TOKEN + "x", TOKEN[:-1], TOKEN.upper()):
        status, _, body = call(server, "POST", "/decode", {"payloads": [as_json(sealed)]}, token=wrong)
        assert status == 403, wrong
        assert "Wang" not in json.dumps(body)
    status, _, _ = call(server, "POST", "/encode", {"payloads": []}, token="wrong-token")
    assert status == 403


def test_cors_preflight_only_for_the_configured_origin(server):  # type: ignore[no-untyped-def]
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    status, headers, _ = call(server, "OPTIONS", "/decode", token=None, headers={"Origin": UI, **preflight})
    assert status in (200, 204)
    assert headers["access-control-allow-origin"] == UI
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == ALLOW_HEADERS
    assert headers["access-control-allow-credentials"] == "true"
    assert "origin" in headers["vary"].lower()

    status, headers, _ = call(server, "OPTIONS", "/decode", token=None,
                              headers={"Origin": "http://evil.example", **preflight})
    assert not any(k.startswith("access-control-") for k in headers)
    assert status == 403
    # Same host, other port: a different origin.
    _, headers, _ = call(server, "OPTIONS", "/decode", token=None,
                         headers={"Origin": "http://localhost:8234", **preflight})
    assert "access-control-allow-origin" not in headers


def test_cors_on_the_actual_request(server, codec):  # type: ignore[no-untyped-def]
    sealed = encrypted(codec, {"n": 2})
    status, headers, _ = call(server, "POST", "/decode", {"payloads": [as_json(sealed)]},
                              headers={"Origin": "https://temporal.example.com"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://temporal.example.com"
    status, headers, body = call(server, "POST", "/decode", {"payloads": [as_json(sealed)]},
                                 headers={"Origin": "http://evil.example"})
    assert status == 403 and "access-control-allow-origin" not in headers
    assert "payloads" not in body


def test_encode_then_decode_round_trip(server, codec):  # type: ignore[no-untyped-def]
    plain = pydantic_data_converter.payload_converter.to_payloads([PERSON, {"amount": "12.50"}, 7])
    status, _, encoded = call(server, "POST", "/encode", {"payloads": [as_json(p) for p in plain]})
    assert status == 200, encoded
    sealed = [from_json(p) for p in encoded["payloads"]]
    assert all(p.metadata["encoding"] == ENCODING for p in sealed)
    assert all(p.metadata[KEY_ID] == codec.active_key_id.encode() for p in sealed)
    assert all(b"Wang" not in p.data for p in sealed)
    # What the server encodes, the workers' codec decodes, and back again.
    assert asyncio.run(codec.decode(sealed)) == plain
    status, _, decoded = call(server, "POST", "/decode", encoded)
    assert status == 200
    assert [from_json(p) for p in decoded["payloads"]] == plain


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", '{"payloads": [...]}'),
        (b'{"payloads": 3}', "Payloads JSON"),
        (b'{"payloads": [{"data": 5}]}', "Payloads JSON"),
        (b'{"payloads": [], "extra": 1}', "Payloads JSON"),
        (b'{"payloads": [{"metadata": {"encoding": 1}}]}', "Payloads JSON"),
        (b"", "not JSON"),
    ],
)
def test_malformed_body_is_400_with_a_message(server, raw, fragment):  # type: ignore[no-untyped-def]
    status, _, body = call(server, "POST", "/decode", raw=raw)
    assert status == 400
    assert fragment in body["error"]


def test_undecryptable_payload_is_400_naming_it(server, codec):  # type: ignore[no-untyped-def]
    other = EncryptionCodec(parse_keys("k9:" + base64.b64encode(b"9" * 32).decode()))
    foreign = encrypted(other, {"x": 1})
    good = encrypted(codec, {"x": 2})
    status, _, body = call(server, "POST", "/decode", {"payloads": [as_json(good), as_json(foreign)]})
    assert status == 400 and body["error"].startswith("payload 1:") and "k9" in body["error"]
    tampered = Payload(metadata=dict(good.metadata), data=good.data[:-1] + bytes([good.data[-1] ^ 1]))
    status, _, body = call(server, "POST", "/decode", {"payloads": [as_json(tampered)]})
    assert status == 400 and "payload 0" in body["error"]
    # The connection stays usable for the next request after a refusal.
    status, _, _ = call(server, "POST", "/decode", {"payloads": [as_json(good)]})
    assert status == 200


def test_health_needs_no_token(server):  # type: ignore[no-untyped-def]
    status, _, body = call(server, "GET", "/healthz", token=None)
    assert (status, body) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({}, "AFTERSALES_CODEC_TOKEN is not set"),
        ({"AFTERSALES_CODEC_TOKEN": "short"}, "too short"),
        ({"AFTERSALES_CODEC_TOKEN": TOKEN, "AFTERSALES_CODEC_PORT": "http"}, "AFTERSALES_CODEC_PORT"),
        ({"AFTERSALES_CODEC_TOKEN": TOKEN, "AFTERSALES_CODEC_ORIGINS": "*"}, "not allowed"),
    ],
)
def test_config_from_env_refuses_bad_settings(env, fragment):  # type: ignore[no-untyped-def]
    with pytest.raises(CodecServerError, match=fragment):
        CodecServerConfig.from_env(env)


def test_config_from_env_defaults():
    config = CodecServerConfig.from_env({"AFTERSALES_CODEC_TOKEN": TOKEN})
    assert (config.port, config.origins, config.host) == (8081, ("http://localhost:8233",), "127.0.0.1")
    config = CodecServerConfig.from_env({
        "AFTERSALES_CODEC_TOKEN": TOKEN, "AFTERSALES_CODEC_PORT": "9000",
        "AFTERSALES_CODEC_ORIGINS": "http://localhost:8080, https://ui.example.com/",
    })
    assert config.port == 9000 and config.origins == ("http://localhost:8080", "https://ui.example.com")


def test_run_refuses_to_start_without_token_in_one_line(monkeypatch, capsys, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("AFTERSALES_CODEC_TOKEN", raising=False)
    settings = Settings(codec_keys=TEST_CODEC_KEYS, home=tmp_path)
    assert run_codec_server(argparse.Namespace(host=None, port=None), settings) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AFTERSALES_CODEC_TOKEN" in err


def test_run_refuses_to_start_without_keys(capsys, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path, codec_variables={"AFTERSALES_CODEC_TOKEN": TOKEN})
    assert run_codec_server(argparse.Namespace(host=None, port=None), settings) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no codec keys" in err


def test_runs_as_a_process_and_stops_on_sigterm(codec):  # type: ignore[no-untyped-def]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AFTERSALES_CODEC_KEYS": TEST_CODEC_KEYS,
           "AFTERSALES_CODEC_TOKEN": TOKEN, "AFTERSALES_CODEC_PORT": str(port)}
    code = ("import argparse, sys; from codec_server.command import run_codec_server; "
            "from runtime.settings import Settings; "
            "sys.exit(run_codec_server(argparse.Namespace(host=None, port=None), Settings.from_env()))")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                assert conn.getresponse().status == 200
                conn.close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        sealed = encrypted(codec, PERSON)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", "/decode", body=json.dumps({"payloads": [as_json(sealed)]}),
                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        response = conn.getresponse()
        body = json.loads(response.read())
        conn.close()
        assert response.status == 200 and json.loads(from_json(body["payloads"][0]).data) == PERSON
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        err = proc.stderr.read().decode() if proc.stderr else ""
        assert "Wang" not in err and "+8613711112222" not in err  # bodies are never logged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
