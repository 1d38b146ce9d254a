"""Streaming authenticated encryption: Tink's AES-GCM-HKDF streaming AEAD in a small envelope.

The construction is Tink's, unchanged ("AES-GCM-HKDF Streaming AEAD",
https://developers.google.com/tink/streaming-aead/aes_gcm_hkdf_streaming, and Tink's
``AesGcmHkdfStreaming``), with the parameters of its ``AES256_GCM_HKDF_1MB`` template: derived key
size 32, HKDF-SHA256, ciphertext segment size 1 MiB (configurable), first-segment offset 0. Tink's
construction is an instance of the STREAM scheme of Hoang, Reyhanitabar, Rogaway and Vizár,
"Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance" (CRYPTO 2015), which is
what makes reordering, dropping, duplicating and truncating segments detectable.

Tink ciphertext (everything after our envelope)::

    header_length (1 byte, = 40) || salt (32) || nonce_prefix (7) || segment_0 || ... || segment_n

- ``segment_key = HKDF-SHA256(ikm=key, salt=salt, info=associated_data, L=32)``: a fresh key per
  stream, so the 96-bit GCM nonces below never repeat under one key.
- segment ``i`` is AES-256-GCM under ``segment_key`` with the 12-byte nonce
  ``nonce_prefix || i (4 bytes, big-endian) || last (1 byte: 0x01 on the last segment, else 0x00)``
  and no GCM associated data (the associated data is already in the key).
- every ciphertext segment is ``segment_size`` bytes (16 of them the tag) except that the first is
  shorter by the header (40 bytes) and the last may be shorter; an empty plaintext is one empty last
  segment.

Our envelope, in front of the Tink ciphertext::

    magic "APLV" (4) || format version (1, = 1) || segment_size (4, big-endian) || key id (8)

The segment size must travel with the object (Tink keeps it in the key); the key id
(``HKDF-SHA256(key, info="appliance.crypto.key-id.v1")[:8]``) names the data key without revealing
it. The whole envelope is prepended to the caller's associated data before it reaches Tink, so the
envelope is authenticated too: changing any byte of it, or moving it between objects, changes the
segment key and every segment fails. A master-key version is deliberately not in the envelope:
rotation re-wraps data keys without rewriting ciphertext, so it would go stale.

Every failure (bad envelope, wrong key, a changed, missing, extra or moved byte) raises the same
:class:`~appliance.errors.IntegrityError`; callers, and attackers, are not told which check failed.
Decryption is online: each plaintext segment is released only after its tag verified, but a stream
is whole only when the iterator finishes without error, so a consumer must treat what it got as
provisional until then (``Vault.read_bytes`` does exactly that).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from appliance.crypto._primitives import (
    AES_KEY_BYTES,
    GCM_TAG_BYTES,
    GcmCipher,
    PrimitiveFailure,
    derive_hkdf_sha256,
    random_bytes,
)
from appliance.crypto._segments import SegmentCutter
from appliance.errors import IntegrityError

MAGIC = b"APLV"
FORMAT_VERSION = 1
KEY_ID_BYTES = 8
ENVELOPE_BYTES = len(MAGIC) + 1 + 4 + KEY_ID_BYTES

# Tink AES-GCM-HKDF streaming parameters (AES256_GCM_HKDF_1MB).
SALT_BYTES = AES_KEY_BYTES  # Tink: the salt is as long as the derived key
NONCE_PREFIX_BYTES = 7
TINK_HEADER_BYTES = 1 + SALT_BYTES + NONCE_PREFIX_BYTES
HEADER_BYTES = ENVELOPE_BYTES + TINK_HEADER_BYTES
DEFAULT_SEGMENT_SIZE = 1 << 20
# Tink requires room for at least one plaintext byte in the first segment.
MIN_SEGMENT_SIZE = TINK_HEADER_BYTES + GCM_TAG_BYTES + 1
# Bounded so a stream's memory stays bounded whatever a (not yet authenticated) header claims.
MAX_SEGMENT_SIZE = 64 << 20
# The segment index is a 4-byte counter (Tink's limit); never let it wrap into a reused nonce.
MAX_SEGMENTS = 1 << 32

_KEY_ID_INFO = b"appliance.crypto.key-id.v1"
_FAILED = (
    "ciphertext failed authentication: it was changed, truncated or moved, or the key is wrong"
)


def encrypt_stream(
    key: bytes, chunks: Iterable[bytes], aad: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> Iterator[bytes]:
    """Encrypt an iterable of plaintext chunks of any sizes, in constant memory.

    Yields the header, then one ciphertext segment at a time. A fresh random salt and nonce prefix
    are drawn for every stream.
    """
    encrypter = StreamEncrypter(key, aad, segment_size)
    return _run_encrypter(encrypter, chunks)


def decrypt_stream(key: bytes, chunks: Iterable[bytes], aad: bytes) -> Iterator[bytes]:
    """Decrypt and verify a ciphertext given as chunks of any sizes, in constant memory.

    Yields verified plaintext segment by segment; raises :class:`IntegrityError` on any failure.
    The stream is complete and authentic only once the iterator is exhausted without error.
    """
    decrypter = StreamDecrypter(key, aad)  # eager: a bad key length fails at the call
    return _run_decrypter(decrypter, chunks)


def _encrypt_from_parts(
    key: bytes,
    chunks: Iterable[bytes],
    aad: bytes,
    segment_size: int,
    salt: bytes,
    nonce_prefix: bytes,
) -> Iterator[bytes]:
    """Test hook: :func:`encrypt_stream` with a caller-chosen salt and nonce prefix.

    Only for replaying known-answer vectors. Reusing a (key, salt, nonce prefix) for two different
    plaintexts reuses GCM nonces and destroys confidentiality and integrity.
    """
    encrypter = StreamEncrypter._from_parts(key, aad, segment_size, salt, nonce_prefix)
    return _run_encrypter(encrypter, chunks)


def _run_encrypter(encrypter: StreamEncrypter, chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield encrypter.header
    for chunk in chunks:
        yield from encrypter._feed(chunk)
    yield encrypter.finalize()


def _run_decrypter(decrypter: StreamDecrypter, chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decrypter._feed(chunk)
    yield decrypter.finalize()


def derive_key_id(key: bytes) -> bytes:
    """An 8-byte identifier of a data key: one-way, so it says nothing usable about the key."""
    return derive_hkdf_sha256(key, None, _KEY_ID_INFO, KEY_ID_BYTES)


def _check_parameters(key: bytes, segment_size: int) -> None:
    if len(key) != AES_KEY_BYTES:
        raise ValueError(f"a stream key must be {AES_KEY_BYTES} bytes, got {len(key)}")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(
            f"segment_size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE}, "
            f"got {segment_size}"
        )


def _encode_envelope(segment_size: int, key_id: bytes) -> bytes:
    return MAGIC + struct.pack(">BI", FORMAT_VERSION, segment_size) + key_id


def _segment_nonce(nonce_prefix: bytes, index: int, last: bool) -> bytes:
    """Tink: nonce_prefix (7) || segment index (4, big-endian) || last-segment flag (1)."""
    return nonce_prefix + struct.pack(">IB", index, 1 if last else 0)


def _segment_cipher(key: bytes, salt: bytes, envelope: bytes, aad: bytes) -> GcmCipher:
    """Tink: segment key = HKDF-SHA256(ikm=key, salt=salt, info=associated data)."""
    return GcmCipher(derive_hkdf_sha256(key, salt, envelope + aad, AES_KEY_BYTES))


class StreamEncrypter:
    """Push-style encryption: ``header``, then ``update(chunk)`` repeatedly, then ``finalize()``.

    Used by :func:`encrypt_stream` and by the vault's writer, which receives data by ``write``.
    """

    def __init__(self, key: bytes, aad: bytes, segment_size: int = DEFAULT_SEGMENT_SIZE) -> None:
        self._start(
            key, aad, segment_size, random_bytes(SALT_BYTES), random_bytes(NONCE_PREFIX_BYTES)
        )

    @classmethod
    def _from_parts(
        cls, key: bytes, aad: bytes, segment_size: int, salt: bytes, nonce_prefix: bytes
    ) -> StreamEncrypter:
        if len(salt) != SALT_BYTES or len(nonce_prefix) != NONCE_PREFIX_BYTES:
            raise ValueError("salt must be 32 bytes and nonce_prefix 7 bytes")
        self = cls.__new__(cls)
        self._start(key, aad, segment_size, salt, nonce_prefix)
        return self

    def _start(
        self, key: bytes, aad: bytes, segment_size: int, salt: bytes, nonce_prefix: bytes
    ) -> None:
        _check_parameters(key, segment_size)
        envelope = _encode_envelope(segment_size, derive_key_id(key))
        self.header = envelope + bytes([TINK_HEADER_BYTES]) + salt + nonce_prefix
        self._cipher = _segment_cipher(key, salt, envelope, aad)
        self._nonce_prefix = nonce_prefix
        self._index = 0
        self._done = False
        plain_size = segment_size - GCM_TAG_BYTES
        # The first segment is shorter by Tink's header, so header + segment_0 = segment_size.
        self._cutter = SegmentCutter(plain_size - TINK_HEADER_BYTES, plain_size)

    def update(self, chunk: bytes | bytearray | memoryview) -> list[bytes]:
        """Encrypt what can be encrypted so far; returns zero or more ciphertext segments."""
        return list(self._feed(chunk))

    def _feed(self, chunk: bytes | bytearray | memoryview) -> Iterator[bytes]:
        if self._done:
            raise ValueError("stream already finalized")
        for segment in self._cutter.feed(chunk):
            yield self._seal(segment, last=False)

    def finalize(self) -> bytes:
        """Encrypt the held-back bytes as the last segment."""
        if self._done:
            raise ValueError("stream already finalized")
        self._done = True
        return self._seal(self._cutter.finish(), last=True)

    def _seal(self, segment: memoryview, *, last: bool) -> bytes:
        if self._index >= MAX_SEGMENTS:
            raise ValueError("stream too long: the 4-byte segment counter would wrap")
        nonce = _segment_nonce(self._nonce_prefix, self._index, last)
        self._index += 1
        return self._cipher.seal(nonce, segment, None)


class StreamDecrypter:
    """Push-style decryption: ``update(chunk)`` any number of times, then ``finalize()``.

    After the first failure every further call fails too: a broken stream stays broken.
    """

    def __init__(self, key: bytes, aad: bytes) -> None:
        if len(key) != AES_KEY_BYTES:
            raise ValueError(f"a stream key must be {AES_KEY_BYTES} bytes, got {len(key)}")
        self._key = key
        self._aad = aad
        self._header = bytearray()
        self._cipher: GcmCipher | None = None
        self._cutter: SegmentCutter | None = None
        self._nonce_prefix = b""
        self._index = 0
        self._state = "header"

    def update(self, chunk: bytes | bytearray | memoryview) -> list[bytes]:
        """Verify and decrypt every complete segment received so far."""
        return list(self._feed(chunk))

    def _feed(self, chunk: bytes | bytearray | memoryview) -> Iterator[bytes]:
        self._check_open()
        try:
            yield from self._update(memoryview(chunk).cast("B"))
        except IntegrityError:
            self._state = "failed"
            raise

    def finalize(self) -> bytes:
        """Verify and decrypt the last segment; fails if the stream ended anywhere but its end."""
        self._check_open()
        self._state = "failed"  # until proven otherwise
        if self._cutter is None:
            raise IntegrityError(_FAILED)
        last = self._cutter.finish()
        if len(last) < GCM_TAG_BYTES:
            raise IntegrityError(_FAILED)
        plaintext = self._open(last, last=True)
        self._state = "done"
        return plaintext

    def _check_open(self) -> None:
        if self._state == "failed":
            raise IntegrityError(_FAILED)
        if self._state == "done":
            raise ValueError("stream already finalized")

    def _update(self, chunk: memoryview) -> Iterator[bytes]:
        if self._cutter is None:
            take = HEADER_BYTES - len(self._header)
            self._header += chunk[:take]
            chunk = chunk[take:]
            if len(self._header) < HEADER_BYTES:
                return
            self._read_header(bytes(self._header))
        assert self._cutter is not None
        for segment in self._cutter.feed(chunk):
            yield self._open(segment, last=False)

    def _read_header(self, header: bytes) -> None:
        envelope = header[:ENVELOPE_BYTES]
        magic, rest = envelope[: len(MAGIC)], envelope[len(MAGIC) :]
        version, segment_size = struct.unpack(">BI", rest[:5])
        key_id = rest[5:]
        tink_header = header[ENVELOPE_BYTES:]
        # Every check fails the same way: the reader learns nothing about which one it was.
        if (
            magic != MAGIC
            or version != FORMAT_VERSION
            or not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE
            or key_id != derive_key_id(self._key)
            or tink_header[0] != TINK_HEADER_BYTES
        ):
            raise IntegrityError(_FAILED)
        salt = tink_header[1 : 1 + SALT_BYTES]
        self._nonce_prefix = tink_header[1 + SALT_BYTES :]
        self._cipher = _segment_cipher(self._key, salt, envelope, self._aad)
        self._cutter = SegmentCutter(segment_size - TINK_HEADER_BYTES, segment_size)

    def _open(self, segment: memoryview, *, last: bool) -> bytes:
        assert self._cipher is not None
        if self._index >= MAX_SEGMENTS:
            raise IntegrityError(_FAILED)
        nonce = _segment_nonce(self._nonce_prefix, self._index, last)
        self._index += 1
        try:
            return self._cipher.open(nonce, segment, None)
        except PrimitiveFailure:
            raise IntegrityError(_FAILED) from None
