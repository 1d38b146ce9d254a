"""Known-answer vectors: our own format (streaming_aead.json) and Tink's output (tink_interop.json).

The Tink vectors were produced by Tink itself (see the file's ``source``), so replaying them shows
the construction is Tink's, byte for byte, not merely self-consistent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.crypto.streaming import (
    ENVELOPE_BYTES,
    _encode_envelope,
    _encrypt_from_parts,
    decrypt_stream,
    derive_key_id,
)

from .vectors.make_vectors import build_document

VECTORS = Path(__file__).parent / "vectors"
OURS = json.loads((VECTORS / "streaming_aead.json").read_text("utf-8"))["vectors"]
TINK = json.loads((VECTORS / "tink_interop.json").read_text("utf-8"))["vectors"]


def tink_id(vector: dict[str, Any]) -> str:
    return f"seg{vector['segment_size']}-len{len(vector['plaintext']) // 2}"


def chunked(data: bytes, size: int = 7) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("vector", OURS, ids=[v["description"] for v in OURS])
def test_format_vectors_encrypt(vector: dict[str, Any]) -> None:
    got = _encrypt_from_parts(
        bytes.fromhex(vector["key"]),
        chunked(bytes.fromhex(vector["plaintext"])),
        bytes.fromhex(vector["aad"]),
        vector["segment_size"],
        bytes.fromhex(vector["salt"]),
        bytes.fromhex(vector["nonce_prefix"]),
    )
    assert b"".join(got).hex() == vector["ciphertext"]


@pytest.mark.parametrize("vector", OURS, ids=[v["description"] for v in OURS])
def test_format_vectors_decrypt(vector: dict[str, Any]) -> None:
    got = decrypt_stream(
        bytes.fromhex(vector["key"]),
        chunked(bytes.fromhex(vector["ciphertext"])),
        bytes.fromhex(vector["aad"]),
    )
    assert b"".join(got).hex() == vector["plaintext"]


def test_vector_file_is_reproducible() -> None:
    assert build_document()["vectors"] == OURS


@pytest.mark.parametrize("vector", TINK, ids=tink_id)
def test_tink_ciphertext_decrypts(vector: dict[str, Any]) -> None:
    key, aad = bytes.fromhex(vector["key"]), bytes.fromhex(vector["aad"])
    envelope = _encode_envelope(vector["segment_size"], derive_key_id(key))
    assert bytes.fromhex(vector["tink_associated_data"]) == envelope + aad
    ours = envelope + bytes.fromhex(vector["tink_ciphertext"])
    assert b"".join(decrypt_stream(key, chunked(ours), aad)).hex() == vector["plaintext"]


@pytest.mark.parametrize("vector", TINK, ids=tink_id)
def test_encrypting_with_tinks_salt_gives_tinks_bytes(vector: dict[str, Any]) -> None:
    tink_ct = bytes.fromhex(vector["tink_ciphertext"])
    salt, nonce_prefix = tink_ct[1:33], tink_ct[33:40]
    got = b"".join(
        _encrypt_from_parts(
            bytes.fromhex(vector["key"]),
            chunked(bytes.fromhex(vector["plaintext"])),
            bytes.fromhex(vector["aad"]),
            vector["segment_size"],
            salt,
            nonce_prefix,
        )
    )
    assert got[ENVELOPE_BYTES:] == tink_ct
