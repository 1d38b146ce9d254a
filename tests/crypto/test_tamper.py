"""The tamper matrix (DESIGN.md invariant 3): every change to a stored stream is detected.

Each case takes a valid ciphertext (five segments at segment size 64) and damages it: a flipped
bit, a truncation, a removed, duplicated or reordered segment, a segment or header moved in from
another object, a wrong key or a wrong binding. Every case must raise the same IntegrityError with
the same message: the reader is never told which check failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from appliance.crypto.streaming import ENVELOPE_BYTES, HEADER_BYTES, decrypt_stream, encrypt_stream
from appliance.errors import IntegrityError

SEGMENT = 64
KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)
AAD = b"\x00\x00\x00\x04obj_a\x00\x00\x00\x07dataset"
OTHER_AAD = b"\x00\x00\x00\x04obj_b\x00\x00\x00\x07dataset"
# 8 + 48 + 48 + 48 + 20 bytes: five segments, the last one short
PLAINTEXT = os.urandom(172)
OPAQUE = "ciphertext failed authentication: it was changed, truncated or moved, or the key is wrong"


def seal(plaintext: bytes = PLAINTEXT, key: bytes = KEY, aad: bytes = AAD) -> bytes:
    return b"".join(encrypt_stream(key, [plaintext], aad, SEGMENT))


def split(ciphertext: bytes) -> tuple[bytes, list[bytes]]:
    """(header, segments): the first segment is 40 bytes shorter, per Tink."""
    header, body = ciphertext[:HEADER_BYTES], ciphertext[HEADER_BYTES:]
    first = SEGMENT - 40
    segments = [body[:first]] + [body[i : i + SEGMENT] for i in range(first, len(body), SEGMENT)]
    return header, segments


def join(header: bytes, segments: list[bytes]) -> bytes:
    return header + b"".join(segments)


def flip(data: bytes, index: int, bit: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ (1 << bit)]) + data[index + 1 :]


CIPHERTEXT = seal()
HEADER, SEGMENTS = split(CIPHERTEXT)
assert len(SEGMENTS) == 5 and len(SEGMENTS[-1]) == 20 + 16


def boundary(n: int) -> int:
    """Offset of the end of segment n-1 (n segments kept)."""
    return HEADER_BYTES + sum(len(s) for s in SEGMENTS[:n])


Tamper = Callable[[bytes], bytes]

CASES: dict[str, Tamper] = {
    # a flipped bit in each part of the format
    "flip envelope magic": lambda c: flip(c, 0),
    "flip format version": lambda c: flip(c, 4),
    "flip segment size": lambda c: flip(c, 8),
    "flip segment size high byte": lambda c: flip(c, 5, 7),
    "flip key id": lambda c: flip(c, 12),
    "flip tink header length": lambda c: flip(c, ENVELOPE_BYTES),
    "flip salt": lambda c: flip(c, ENVELOPE_BYTES + 5),
    "flip nonce prefix": lambda c: flip(c, HEADER_BYTES - 1),
    "flip first segment body": lambda c: flip(c, HEADER_BYTES),
    "flip first segment tag": lambda c: flip(c, boundary(1) - 1),
    "flip middle segment": lambda c: flip(c, boundary(2) + 10, 3),
    "flip last segment body": lambda c: flip(c, boundary(4) + 2),
    "flip last byte": lambda c: flip(c, len(c) - 1, 7),
    # truncation, including exactly at segment boundaries
    "empty": lambda c: b"",
    "envelope only": lambda c: c[:ENVELOPE_BYTES],
    "header only": lambda c: c[:HEADER_BYTES],
    "truncated at boundary after segment 1": lambda c: c[: boundary(1)],
    "truncated at boundary after segment 2": lambda c: c[: boundary(2)],
    "truncated at boundary after segment 4": lambda c: c[: boundary(4)],
    "truncated mid segment": lambda c: c[: boundary(2) + 30],
    "last byte dropped": lambda c: c[:-1],
    "last tag cut short": lambda c: c[: boundary(4) + 15],
    # removed, duplicated, reordered segments
    "first segment removed": lambda c: join(HEADER, SEGMENTS[1:]),
    "middle segment removed": lambda c: join(HEADER, SEGMENTS[:2] + SEGMENTS[3:]),
    "last segment removed": lambda c: join(HEADER, SEGMENTS[:-1]),
    "middle segment duplicated": lambda c: join(HEADER, SEGMENTS[:3] + SEGMENTS[2:]),
    "last segment duplicated": lambda c: join(HEADER, SEGMENTS + SEGMENTS[-1:]),
    "segments 1 and 2 swapped": lambda c: join(
        HEADER, [SEGMENTS[0], SEGMENTS[2], SEGMENTS[1], *SEGMENTS[3:]]
    ),
    "last segment moved forward": lambda c: join(
        HEADER, [SEGMENTS[0], SEGMENTS[4], *SEGMENTS[1:4]]
    ),
    # extra data
    "one byte appended": lambda c: c + b"\x00",
    "a full segment appended": lambda c: c + SEGMENTS[1],
    # moved from another object: same key and binding, different stream
    "segment from another object": lambda c: join(
        HEADER, SEGMENTS[:2] + [split(seal())[1][2]] + SEGMENTS[3:]
    ),
    "header from another object": lambda c: join(split(seal())[0], SEGMENTS),
    "envelope from an object under another key": lambda c: seal(key=OTHER_KEY)[:ENVELOPE_BYTES]
    + c[ENVELOPE_BYTES:],
    "segment from another object id": lambda c: join(
        HEADER, SEGMENTS[:1] + [split(seal(aad=OTHER_AAD))[1][1]] + SEGMENTS[2:]
    ),
    "whole object from another id": lambda c: seal(aad=OTHER_AAD),
    "whole object under another key": lambda c: seal(key=OTHER_KEY),
}


def assert_rejected(ciphertext: bytes, key: bytes = KEY, aad: bytes = AAD) -> None:
    with pytest.raises(IntegrityError) as caught:
        b"".join(decrypt_stream(key, [ciphertext], aad))
    assert str(caught.value) == OPAQUE


def test_untampered_ciphertext_decrypts() -> None:
    assert b"".join(decrypt_stream(KEY, [CIPHERTEXT], AAD)) == PLAINTEXT


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_is_detected(case: str) -> None:
    tampered = CASES[case](CIPHERTEXT)
    assert tampered != CIPHERTEXT
    assert_rejected(tampered)


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_tampering_is_detected_whatever_the_read_size(chunk: int) -> None:
    tampered = CASES["segments 1 and 2 swapped"](CIPHERTEXT)
    chunks = [tampered[i : i + chunk] for i in range(0, len(tampered), chunk)]
    with pytest.raises(IntegrityError):
        b"".join(decrypt_stream(KEY, chunks, AAD))


def test_wrong_key_is_detected() -> None:
    assert_rejected(CIPHERTEXT, key=OTHER_KEY)


@pytest.mark.parametrize("aad", [b"", OTHER_AAD, AAD + b"\x00", AAD[:-1]])
def test_wrong_binding_is_detected(aad: bytes) -> None:
    assert_rejected(CIPHERTEXT, aad=aad)


def test_every_single_bit_flip_is_detected() -> None:
    for index in range(len(CIPHERTEXT)):
        for bit in range(8):
            with pytest.raises(IntegrityError):
                b"".join(decrypt_stream(KEY, [flip(CIPHERTEXT, index, bit)], AAD))


def test_every_truncation_is_detected() -> None:
    for length in range(len(CIPHERTEXT)):
        with pytest.raises(IntegrityError):
            b"".join(decrypt_stream(KEY, [CIPHERTEXT[:length]], AAD))


def test_only_authenticated_segments_are_released_before_a_failure() -> None:
    """Online decryption: segments before a truncation come out, then the stream fails."""
    released = []
    with pytest.raises(IntegrityError):
        for piece in decrypt_stream(KEY, [CIPHERTEXT[: boundary(3)]], AAD):
            released.append(piece)
    assert b"".join(released) == PLAINTEXT[: 8 + 48]
