"""Context binding: an unambiguous encoding of the associated data an object is bound to.

AEAD associated data is authenticated but not encrypted (RFC 5116 section 2.1). Binding the vault's
ciphertext to ``(object id, kind)`` and a wrapped key to ``(object id, master-key version)`` is what
makes a ciphertext or key moved to another row fail authentication. The encoding must be injective,
or two different contexts could share associated data: each field is length-prefixed (4-byte
big-endian), and the first field is a label naming the purpose and format version, so associated
data built for one purpose can never be valid for another.
"""

from __future__ import annotations

import struct


def encode_binding(label: str, *fields: str | int) -> bytes:
    """``len(label) || label || len(f1) || f1 || ...``, each field UTF-8 (ints in decimal)."""
    parts = []
    for field in (label, *fields):
        raw = str(field).encode("utf-8")
        parts.append(struct.pack(">I", len(raw)))
        parts.append(raw)
    return b"".join(parts)
