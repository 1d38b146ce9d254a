"""Regenerate tink_interop.json with Tink itself: the independent check that our format is Tink's.

Tink is not a dependency of the appliance. To rerun, install it somewhere throwaway and put it on
the path, e.g. ``pip install --target /tmp/tinkcheck tink==1.16.1`` then
``PYTHONPATH=/tmp/tinkcheck:. python -m tests.crypto.vectors.make_tink_vectors``. Tink draws each
salt and nonce prefix itself; the associated data it is given is our envelope followed by the
caller's aad, exactly what ``appliance.crypto.streaming`` hands its Tink layer.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
from pathlib import Path
from typing import Any

from tink import cleartext_keyset_handle, streaming_aead  # type: ignore[import-not-found]
from tink.proto import (  # type: ignore[import-not-found]
    aes_gcm_hkdf_streaming_pb2,
    common_pb2,
    tink_pb2,
)

from appliance.crypto.streaming import _encode_envelope, derive_key_id

from .make_vectors import derive_bytes

HERE = Path(__file__).parent
TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"
# (segment size, plaintext length, aad length): sizes on and around segment boundaries
CASES = [(57, 0, 0), (57, 1, 3), (57, 2, 0), (64, 0, 5), (64, 8, 0), (64, 9, 7), (64, 56, 1),
         (64, 57, 0), (64, 200, 12), (100, 44, 0), (100, 45, 4), (100, 300, 9), (4096, 5000, 16),
         (1 << 20, 100, 11)]


def tink_primitive(key: bytes, segment_size: int) -> Any:
    params = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingParams(
        ciphertext_segment_size=segment_size, derived_key_size=32,
        hkdf_hash_type=common_pb2.SHA256,
    )
    proto_key = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKey(
        version=0, key_value=key, params=params
    )
    key_data = tink_pb2.KeyData(
        type_url=TYPE_URL, value=proto_key.SerializeToString(),
        key_material_type=tink_pb2.KeyData.SYMMETRIC,
    )
    keyset = tink_pb2.Keyset(primary_key_id=7, key=[tink_pb2.Keyset.Key(
        key_data=key_data, status=tink_pb2.ENABLED, key_id=7, output_prefix_type=tink_pb2.RAW,
    )])
    return cleartext_keyset_handle.from_keyset(keyset).primitive(streaming_aead.StreamingAead)


class _KeptBytes(io.BytesIO):
    """Tink closes its destination; keep the bytes."""

    kept = b""

    def close(self) -> None:
        self.kept = self.getvalue()
        super().close()


def make_vector(index: int, segment_size: int, size: int, aad_size: int) -> dict[str, Any]:
    key = derive_bytes(f"key{index}", 32)
    plaintext, aad = derive_bytes(f"pt{index}", size), derive_bytes(f"aad{index}", aad_size)
    associated_data = _encode_envelope(segment_size, derive_key_id(key)) + aad
    sink = _KeptBytes()
    with tink_primitive(key, segment_size).new_encrypting_stream(sink, associated_data) as out:
        out.write(plaintext)
    return {"segment_size": segment_size, "key": key.hex(), "aad": aad.hex(),
            "plaintext": plaintext.hex(), "tink_associated_data": associated_data.hex(),
            "tink_ciphertext": sink.kept.hex()}


if __name__ == "__main__":
    streaming_aead.register()
    version = importlib.metadata.version("tink")
    document = {
        "source": f"Tink {version} (Python), StreamingAead from an AesGcmHkdfStreamingKey: "
        "derived_key_size 32, hkdf_hash_type SHA256, RAW output prefix. Tink drew each salt and "
        "nonce prefix; the associated data handed to Tink is our envelope followed by the "
        "caller's aad.",
        "vectors": [make_vector(i, *case) for i, case in enumerate(CASES)],
    }
    target = HERE / "tink_interop.json"
    target.write_text(json.dumps(document, indent=1) + "\n", "utf-8")
    print(f"wrote {target}")
