"""AES-GCM payload encryption, so customers' personal data never sits in Temporal in the clear.

Every structured payload (intakes, case state, activity inputs and results, update arguments) is
encrypted with the active key and tagged with its key id, so keys can rotate: new payloads use
the first key, and older ones still decrypt with any key that is kept. Two kinds of payload stay
readable on purpose, because they are what operations staff read in the Web UI and carry no
personal data by construction: plain strings (timer, activity and case summaries) and the
workflow-metadata query answer (the live clock table).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_PLAIN_MESSAGE_TYPES = {b"temporal.api.sdk.v1.WorkflowMetadata"}


class CodecKeyError(ValueError):
    """The key configuration is malformed, or a payload names a key that is not configured."""


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key[,id:base64key...]`, active key first. Keys are 128, 192 or 256 bits."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id:
            raise CodecKeyError("codec keys: expected id:base64key[,id:base64key...]")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as err:
            raise CodecKeyError(f"codec key {key_id!r}: not valid base64") from err
        if len(key) not in (16, 24, 32):
            raise CodecKeyError(f"codec key {key_id!r}: must be 16, 24 or 32 bytes, not {len(key)}")
        keys[key_id] = key
    if not keys:
        raise CodecKeyError("codec keys: none given")
    return keys


def new_key_spec(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def _stays_plain(payload: Payload) -> bool:
    encoding = payload.metadata.get("encoding", b"")
    if encoding == ENCODING:
        return True  # already encrypted
    if encoding == b"json/plain" and payload.data[:1] == b'"':
        return True  # a bare string: summaries and details meant for the UI
    return payload.metadata.get("messageType", b"") in _PLAIN_MESSAGE_TYPES


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise CodecKeyError("codec keys: none given")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = next(iter(keys))

    @property
    def active_key_id(self) -> str:
        return self._active

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [p if _stays_plain(p) else self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) if p.metadata.get("encoding") == ENCODING else p for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        key_id = self._active.encode()
        sealed = self._ciphers[self._active].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"payload encrypted with unknown key id {key_id!r}")
        plain = cipher.decrypt(payload.data[:12], payload.data[12:], key_id.encode())
        return Payload.FromString(plain)
