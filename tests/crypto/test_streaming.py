"""The streaming AEAD: round trips, the Tink construction itself, and constant memory."""

from __future__ import annotations

import os
import struct
import tracemalloc
from collections.abc import Iterator

import pytest

from appliance.crypto import _primitives as prim
from appliance.crypto.streaming import (
    ENVELOPE_BYTES,
    HEADER_BYTES,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    TINK_HEADER_BYTES,
    StreamDecrypter,
    StreamEncrypter,
    decrypt_stream,
    derive_key_id,
    encrypt_stream,
)

KEY = bytes(range(32))
AAD = b"object-binding"


def encrypt(plaintext: bytes, segment_size: int = 64, chunk: int = 1000, key: bytes = KEY) -> bytes:
    chunks = [plaintext[i : i + chunk] for i in range(0, len(plaintext), chunk)]
    return b"".join(encrypt_stream(key, chunks, AAD, segment_size))


def decrypt(ciphertext: bytes, chunk: int = 1000, key: bytes = KEY, aad: bytes = AAD) -> bytes:
    chunks = [ciphertext[i : i + chunk] for i in range(0, len(ciphertext), chunk)]
    return b"".join(decrypt_stream(key, chunks, aad))


def reference_encrypt(key: bytes, plaintext: bytes, aad: bytes, segment_size: int,
                      salt: bytes, nonce_prefix: bytes) -> bytes:
    """Tink's construction written out in one shot, straight from the spec, for comparison."""
    envelope = b"APLV" + struct.pack(">BI", 1, segment_size) + derive_key_id(key)
    segment_key = prim.derive_hkdf_sha256(key, salt, envelope + aad, 32)
    cipher = prim.GcmCipher(segment_key)
    first = segment_size - 16 - 40
    rest = segment_size - 16
    pieces = [plaintext[:first]]
    pieces += [plaintext[i : i + rest] for i in range(first, len(plaintext), rest)]
    out = [envelope, bytes([40]), salt, nonce_prefix]
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        nonce = nonce_prefix + struct.pack(">IB", index, int(last))
        out.append(cipher.seal(nonce, piece, None))
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 55, 56, 57, 104, 105, 1000, 4099])
@pytest.mark.parametrize("chunk", [1, 13, 64, 5000])
def test_round_trip_any_size_and_chunking(size: int, chunk: int) -> None:
    plaintext = os.urandom(size)
    ciphertext = encrypt(plaintext, chunk=chunk)
    assert decrypt(ciphertext, chunk=chunk) == plaintext
    assert decrypt(ciphertext, chunk=max(1, chunk // 2 + 1)) == plaintext


@pytest.mark.parametrize("size", [0, 1, 8, 9, 56, 57, 300])
@pytest.mark.parametrize("segment_size", [MIN_SEGMENT_SIZE, 64, 100])
def test_matches_reference_construction(size: int, segment_size: int) -> None:
    """Streamed output equals Tink's construction computed in one shot, whatever the chunking."""
    from appliance.crypto.streaming import _encrypt_from_parts

    plaintext = os.urandom(size)
    salt, prefix = os.urandom(32), os.urandom(7)
    expected = reference_encrypt(KEY, plaintext, AAD, segment_size, salt, prefix)
    chunks = [plaintext[i : i + 5] for i in range(0, size, 5)]
    got = b"".join(_encrypt_from_parts(KEY, chunks, AAD, segment_size, salt, prefix))
    assert got == expected


def test_ciphertext_layout_follows_tink() -> None:
    ciphertext = encrypt(b"x" * 100, segment_size=64)
    assert ciphertext[:4] == b"APLV"
    assert ciphertext[4] == 1
    assert struct.unpack(">I", ciphertext[5:9])[0] == 64
    assert ciphertext[9:ENVELOPE_BYTES] == derive_key_id(KEY)
    assert ciphertext[ENVELOPE_BYTES] == TINK_HEADER_BYTES == 40
    # header + first segment = one segment; 100 bytes = 8 + 48 + 44 -> 3 segments
    assert len(ciphertext) == ENVELOPE_BYTES + 64 + 64 + (44 + 16)


def test_every_stream_draws_fresh_salt_and_nonce_prefix() -> None:
    first, second = encrypt(b"same"), encrypt(b"same")
    assert first[:ENVELOPE_BYTES] == second[:ENVELOPE_BYTES]
    assert first[ENVELOPE_BYTES:HEADER_BYTES] != second[ENVELOPE_BYTES:HEADER_BYTES]
    assert first != second


def test_push_api_matches_pull_api() -> None:
    plaintext = os.urandom(777)
    encrypter = StreamEncrypter(KEY, AAD, 64)
    parts = [encrypter.header]
    for i in range(0, len(plaintext), 100):
        parts += encrypter.update(plaintext[i : i + 100])
    parts.append(encrypter.finalize())
    decrypter = StreamDecrypter(KEY, AAD)
    out = []
    for part in parts:
        out += decrypter.update(part)
    out.append(decrypter.finalize())
    assert b"".join(out) == plaintext


def test_finalized_streams_refuse_more_input() -> None:
    encrypter = StreamEncrypter(KEY, AAD, 64)
    encrypter.finalize()
    with pytest.raises(ValueError, match="finalized"):
        encrypter.update(b"more")


@pytest.mark.parametrize("bad_key", [b"", b"k" * 16, b"k" * 31, b"k" * 33, b"k" * 64])
def test_key_length_is_checked_up_front(bad_key: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_stream(bad_key, [], AAD)
    with pytest.raises(ValueError, match="32 bytes"):
        decrypt_stream(bad_key, [], AAD)


@pytest.mark.parametrize("segment_size", [0, 56, MAX_SEGMENT_SIZE + 1])
def test_segment_size_is_checked(segment_size: int) -> None:
    with pytest.raises(ValueError, match="segment_size"):
        StreamEncrypter(KEY, AAD, segment_size)


def _plaintext_source(total: int, chunk: int) -> Iterator[bytes]:
    block = os.urandom(chunk)
    for _ in range(total // chunk):
        yield block


def test_large_object_in_constant_memory() -> None:
    """8 MiB through encrypt and decrypt with 4 KiB segments: peak allocation stays tiny."""
    total, chunk, segment_size = 8 << 20, 64 << 10, 4096
    tracemalloc.start()
    try:
        ciphertext = encrypt_stream(KEY, _plaintext_source(total, chunk), AAD, segment_size)
        seen = 0
        for piece in decrypt_stream(KEY, ciphertext, AAD):
            seen += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == total
    assert peak < 1 << 20, f"peak {peak} bytes for an {total}-byte object"
