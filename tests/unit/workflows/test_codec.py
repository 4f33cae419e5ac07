"""The payload codec: large payloads are compressed under the encryption, bound to it, and payloads
written before compression still decode."""

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from workflows.codec import (
    COMPRESS_OVER,
    COMPRESSION,
    DECOMPRESS_AT_MOST,
    ENCODING,
    KEY_ID,
    ZLIB,
    CodecKeyError,
    EncryptionCodec,
)

KEY = os.urandom(32)


def _json(size: int) -> Payload:
    text = b'{"policy":"' + b"business hours " * (size // 15) + b'"}'
    return Payload(metadata={"encoding": b"json/plain"}, data=text)


async def test_a_large_payload_is_compressed_then_encrypted_and_comes_back_whole() -> None:
    codec = EncryptionCodec({"k1": KEY}, compress=True)
    original = _json(COMPRESS_OVER * 4)
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[COMPRESSION] == ZLIB
    assert len(sealed.data) < len(original.data) / 4
    assert b"business" not in sealed.data
    assert await codec.decode([sealed]) == [original]


async def test_a_small_payload_is_encrypted_without_compression() -> None:
    codec = EncryptionCodec({"k1": KEY})
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"seq":3}')
    [sealed] = await codec.encode([original])
    assert COMPRESSION not in sealed.metadata
    assert await codec.decode([sealed]) == [original]


async def test_dropping_the_compression_mark_fails_decryption_rather_than_returning_garbage() -> None:
    codec = EncryptionCodec({"k1": KEY}, compress=True)
    [sealed] = await codec.encode([_json(COMPRESS_OVER * 2)])
    tampered = Payload(metadata={"encoding": ENCODING, KEY_ID: b"k1"}, data=sealed.data)
    with pytest.raises(InvalidTag):
        await codec.decode([tampered])


async def test_a_payload_sealed_before_compression_existed_still_decodes() -> None:
    """Bound to its key id alone, as every payload in an older history is."""
    original = _json(COMPRESS_OVER * 2)
    nonce = os.urandom(12)
    data = nonce + AESGCM(KEY).encrypt(nonce, original.SerializeToString(), b"k1")
    old = Payload(metadata={"encoding": ENCODING, KEY_ID: b"k1"}, data=data)
    assert await EncryptionCodec({"k1": KEY}).decode([old]) == [original]


async def test_a_client_never_compresses_for_a_worker_of_an_older_build_cannot_read_it() -> None:
    [sealed] = await EncryptionCodec({"k1": KEY}).encode([_json(COMPRESS_OVER * 4)])
    assert COMPRESSION not in sealed.metadata


async def test_a_null_stays_as_it_is() -> None:
    null = Payload(metadata={"encoding": b"binary/null"})
    assert await EncryptionCodec({"k1": KEY}).encode([null]) == [null]


async def test_a_payload_that_inflates_past_the_bound_is_refused() -> None:
    codec = EncryptionCodec({"k1": KEY}, compress=True)
    bomb = Payload(metadata={"encoding": b"json/plain"}, data=b"0" * (DECOMPRESS_AT_MOST + 1))
    [sealed] = await codec.encode([bomb])
    with pytest.raises(CodecKeyError, match="inflates past"):
        await codec.decode([sealed])
