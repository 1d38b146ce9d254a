"""Key wrapping: AES-256-GCM with a random nonce, bound to (object id, key version)."""

from __future__ import annotations

import os

import pytest

from appliance.crypto.vault import data_key_binding
from appliance.crypto.wrapping import generate_data_key, unwrap_key, wrap_key
from appliance.errors import IntegrityError

KEK = os.urandom(32)
AAD = data_key_binding("obj_aaaaaaaaaaaaaaaaaaaaaaaaaa", 1)


def test_round_trip() -> None:
    data_key = generate_data_key()
    assert len(data_key) == 32
    assert unwrap_key(KEK, wrap_key(KEK, data_key, AAD), AAD) == data_key


def test_fresh_nonce_every_time() -> None:
    data_key = generate_data_key()
    assert wrap_key(KEK, data_key, AAD) != wrap_key(KEK, data_key, AAD)
    assert generate_data_key() != data_key


def test_wrapped_key_hides_the_key() -> None:
    data_key = generate_data_key()
    assert data_key not in wrap_key(KEK, data_key, AAD)


@pytest.mark.parametrize(
    "aad",
    [
        data_key_binding("obj_bbbbbbbbbbbbbbbbbbbbbbbbbb", 1),  # moved to another object
        data_key_binding("obj_aaaaaaaaaaaaaaaaaaaaaaaaaa", 2),  # relabelled key version
        b"",
    ],
)
def test_moved_or_relabelled_wrapped_key_fails(aad: bytes) -> None:
    wrapped = wrap_key(KEK, generate_data_key(), AAD)
    with pytest.raises(IntegrityError, match="wrapped key failed authentication"):
        unwrap_key(KEK, wrapped, aad)


def test_wrong_kek_fails() -> None:
    wrapped = wrap_key(KEK, generate_data_key(), AAD)
    with pytest.raises(IntegrityError):
        unwrap_key(os.urandom(32), wrapped, AAD)


def test_every_bit_flip_and_truncation_fails() -> None:
    wrapped = wrap_key(KEK, generate_data_key(), AAD)
    for index in range(len(wrapped)):
        for bit in range(8):
            damaged = wrapped[:index] + bytes([wrapped[index] ^ 1 << bit]) + wrapped[index + 1 :]
            with pytest.raises(IntegrityError):
                unwrap_key(KEK, damaged, AAD)
        with pytest.raises(IntegrityError):
            unwrap_key(KEK, wrapped[:index], AAD)


def test_kek_length_is_checked() -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        wrap_key(b"short", generate_data_key(), AAD)
    with pytest.raises(ValueError, match="32-byte key"):
        unwrap_key(b"short", b"x" * 61, AAD)
