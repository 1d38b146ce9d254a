"""Key wrapping: AES-256-GCM with a random nonce, bound to its context by associated data.

A wrapped key is ``version (1 byte, = 1) || nonce (12) || AES-256-GCM(kek, nonce, key, aad)``; the
GCM tag authenticates the key and the associated data together (NIST SP 800-38D), so a wrapped key
copied to another object, or relabelled with another master-key version, fails to unwrap. Random
96-bit nonces are safe for up to 2^32 wraps under one key-encryption key (SP 800-38D section 8.3);
master keys are rotated long before that.
"""

from __future__ import annotations

from appliance.crypto._primitives import (
    AES_KEY_BYTES,
    GCM_NONCE_BYTES,
    GCM_TAG_BYTES,
    GcmCipher,
    PrimitiveFailure,
    random_bytes,
)
from appliance.errors import IntegrityError

WRAP_FORMAT_VERSION = 1
DATA_KEY_BYTES = AES_KEY_BYTES

_FAILED = "wrapped key failed authentication: it was changed or moved, or the key is wrong"


def generate_data_key() -> bytes:
    """A fresh random 256-bit data key, one per stored object."""
    return random_bytes(DATA_KEY_BYTES)


def wrap_key(kek: bytes, data_key: bytes, aad: bytes) -> bytes:
    """Encrypt ``data_key`` under the key-encryption key ``kek``, bound to ``aad``."""
    if not data_key:
        raise ValueError("nothing to wrap: the data key is empty")
    nonce = random_bytes(GCM_NONCE_BYTES)
    return bytes([WRAP_FORMAT_VERSION]) + nonce + GcmCipher(kek).seal(nonce, data_key, aad)


def unwrap_key(kek: bytes, wrapped: bytes, aad: bytes) -> bytes:
    """Recover a data key; :class:`IntegrityError` if anything about it is not as wrapped."""
    cipher = GcmCipher(kek)  # validates the kek's length before anything else
    if len(wrapped) <= 1 + GCM_NONCE_BYTES + GCM_TAG_BYTES or wrapped[0] != WRAP_FORMAT_VERSION:
        raise IntegrityError(_FAILED)
    nonce, body = wrapped[1 : 1 + GCM_NONCE_BYTES], wrapped[1 + GCM_NONCE_BYTES :]
    try:
        return cipher.open(nonce, body, aad)
    except PrimitiveFailure:
        raise IntegrityError(_FAILED) from None
