"""AES-GCM payload encryption, so customers' personal data never sits in Temporal in the clear.

Every structured payload (intakes, case state, activity inputs and results, update arguments) is
encrypted with the active key and tagged with its key id, so keys can rotate: new payloads use
the first key, and older ones still decrypt with any key that is kept. Two kinds of payload stay
readable on purpose, because they are what operations staff read in the Web UI and carry no
personal data by construction: plain strings (timer, activity and case summaries) and the
workflow-metadata query answer (the live clock table). A null carries nothing and stays as it is.

On a worker, a payload over `COMPRESS_OVER` bytes is compressed before it is encrypted (encrypted bytes do not
compress): the policy a case captures, a state carried across continue-as-new. History bytes are
what Temporal stores, replicates and bills. The `compression` entry is bound to the ciphertext as
associated data, so a payload cannot be made to skip or gain decompression; a payload without it
decrypts as before. Smaller payloads stay uncompressed, where zlib would add more than it saves.
Every codec decompresses; only a worker's workflows and activities compress, because a client
may still be sending to a worker of an older build that cannot read it. So 1.1 cannot read what
1.2 wrote: once 1.2 has cases, the way back is a fixed 1.2 build, never 1.1 (docs/DEPLOY.md).
"""

from __future__ import annotations

import base64
import binascii
import os
import zlib
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
COMPRESSION = "compression"
ZLIB = b"zlib"
COMPRESS_OVER = 1024
# Far above any payload Temporal accepts (a few MiB): a bound on what one payload may inflate to.
DECOMPRESS_AT_MOST = 64 * 1024 * 1024
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
    if encoding in (ENCODING, b"binary/null"):
        return True  # already encrypted, or nothing to hide
    if encoding == b"json/plain" and payload.data[:1] == b'"':
        return True  # a bare string: summaries and details meant for the UI
    return payload.metadata.get("messageType", b"") in _PLAIN_MESSAGE_TYPES


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], *, compress: bool = False) -> None:
        if not keys:
            raise CodecKeyError("codec keys: none given")
        self._compress = compress
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
        plain = payload.SerializeToString()
        metadata = {"encoding": ENCODING, KEY_ID: key_id}
        if self._compress and len(plain) > COMPRESS_OVER:
            plain = zlib.compress(plain, 6)
            metadata[COMPRESSION] = ZLIB
        sealed = self._ciphers[self._active].encrypt(nonce, plain, _bound(key_id, metadata.get(COMPRESSION)))
        return Payload(metadata=metadata, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(f"payload encrypted with unknown key id {key_id!r}")
        compression = payload.metadata.get(COMPRESSION)
        if compression not in (None, ZLIB):
            raise CodecKeyError(f"payload compressed with unknown method {compression!r}")
        plain = cipher.decrypt(payload.data[:12], payload.data[12:], _bound(key_id.encode(), compression))
        return Payload.FromString(_inflate(plain) if compression == ZLIB else plain)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        plain = inflater.decompress(data, DECOMPRESS_AT_MOST)
    except zlib.error as err:
        raise CodecKeyError(f"payload does not decompress: {err}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise CodecKeyError(f"payload inflates past {DECOMPRESS_AT_MOST} bytes, or is cut short")
    return plain


def _bound(key_id: bytes, compression: bytes | None) -> bytes:
    """The associated data: the key id, and the compression when there is one (a payload from
    before compression was bound to its key id alone)."""
    return key_id if compression is None else key_id + b"|" + compression
