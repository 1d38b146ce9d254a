"""Regenerate streaming_aead.json: known-answer vectors for the object format.

Run ``python tests/crypto/vectors/make_vectors.py`` from the repository root. Inputs are derived
deterministically from labels, so a rerun reproduces the file byte for byte unless the format
changed, which is exactly what the vectors exist to catch. (tink_interop.json is different: Tink
itself produced those ciphertexts; see its ``source`` field.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from appliance.crypto.streaming import _encrypt_from_parts

HERE = Path(__file__).parent

# (description, segment_size, plaintext length, aad length, input chunk size)
CASES = [
    ("empty plaintext: one empty last segment", 64, 0, 0, 1),
    ("one byte", 64, 1, 5, 1),
    ("exactly the first segment (8 bytes at segment size 64)", 64, 8, 0, 3),
    ("first segment plus one byte", 64, 9, 3, 4),
    ("first and second segments exactly full", 64, 56, 0, 7),
    ("five segments, short last one", 64, 172, 16, 50),
    ("smallest segment size Tink allows (57: one byte per first segment)", 57, 10, 2, 3),
    ("odd segment size, several segments", 100, 333, 9, 64),
    ("default segment size (1 MiB), small object", 1 << 20, 100, 24, 100),
]


def derive_bytes(label: str, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


def make_vector(index: int, case: tuple[str, int, int, int, int]) -> dict[str, Any]:
    description, segment_size, size, aad_size, chunk = case
    key = derive_bytes(f"key/{index}", 32)
    aad = derive_bytes(f"aad/{index}", aad_size)
    plaintext = derive_bytes(f"plaintext/{index}", size)
    salt = derive_bytes(f"salt/{index}", 32)
    nonce_prefix = derive_bytes(f"nonce-prefix/{index}", 7)
    chunks = [plaintext[i : i + chunk] for i in range(0, size, chunk)]
    ciphertext = b"".join(
        _encrypt_from_parts(key, chunks, aad, segment_size, salt, nonce_prefix)
    )
    return {
        "description": description,
        "segment_size": segment_size,
        "key": key.hex(),
        "aad": aad.hex(),
        "salt": salt.hex(),
        "nonce_prefix": nonce_prefix.hex(),
        "plaintext": plaintext.hex(),
        "ciphertext": ciphertext.hex(),
    }


def build_document() -> dict[str, Any]:
    return {
        "format": "appliance streaming AEAD v1: envelope (APLV, version, segment size, key id) "
        "+ Tink AES-GCM-HKDF streaming (HKDF-SHA256, 32-byte derived keys)",
        "vectors": [make_vector(i, case) for i, case in enumerate(CASES)],
    }


if __name__ == "__main__":
    target = HERE / "streaming_aead.json"
    target.write_text(json.dumps(build_document(), indent=1) + "\n", "utf-8")
    print(f"wrote {target}")
