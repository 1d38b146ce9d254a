"""Signed checkpoints: the audit key's Ed25519 signature (RFC 8032) over the log's state.

A checkpoint commits to the first ``tree_size`` events two ways: ``head_hash`` is the hash of
event ``tree_size`` (the end of the ``prev_hash`` chain) and ``root_hash`` is the RFC 6962 Merkle
Tree Hash over the event hashes (:mod:`appliance.audit.merkle`). As a flat JSON object::

    {"head_hash": "<hex>", "key_id": "<hex>", "root_hash": "<hex>", "time": "<RFC 3339>",
     "tree_size": 120, "type": "appliance.audit.checkpoint/v1", "signature": "<base64>"}

The signature covers the RFC 8785 canonical JSON of every member but ``signature``; ``type``
keeps it from being mistaken for any other message signed with the same key. ``key_id`` is the
SHA-256 of the public key's PEM, i.e. ``sha256sum audit-signing.pub``. In ``checkpoints.jsonl`` each
line also carries ``compact_range``, the Merkle subtree hashes a writer needs to extend the tree;
it is not signed, and is only used after checking that it reproduces the signed ``root_hash``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.audit.canonical import canonical_json
from appliance.crypto.signing import (
    SigningKey,
    VerifyKey,
    export_public_key,
    load_public_key,
    sign,
    verify_signature,
)
from appliance.errors import IntegrityError, InvalidInput

CHECKPOINT_TYPE = "appliance.audit.checkpoint/v1"
SIGNED_FIELDS = frozenset({"type", "tree_size", "root_hash", "head_hash", "time", "key_id"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


def key_id(key: SigningKey | VerifyKey) -> str:
    """SHA-256 of the public key's PEM: what ``sha256sum audit-signing.pub`` prints."""
    return hashlib.sha256(export_public_key(key)).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature has been checked against a known public key."""

    tree_size: int
    root_hash: str
    head_hash: str
    time: str
    key_id: str
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE, "tree_size": self.tree_size, "root_hash": self.root_hash,
            "head_hash": self.head_hash, "time": self.time, "key_id": self.key_id,
            "signature": self.signature,
        }


def sign_checkpoint(
    key: SigningKey, *, tree_size: int, root_hash: str, head_hash: str, time: str,
    signer: str | None = None,
) -> dict[str, Any]:
    """A new signed checkpoint, as the flat dict that is stored and handed to auditors.

    ``signer`` is ``key_id(key)``, passed by callers that sign often to save recomputing it.
    """
    body: dict[str, Any] = {
        "type": CHECKPOINT_TYPE, "tree_size": tree_size, "root_hash": root_hash,
        "head_hash": head_hash, "time": time, "key_id": signer or key_id(key),
    }
    signature = sign(key, canonical_json(body))
    return {**body, "signature": base64.b64encode(signature).decode("ascii")}



def verify_checkpoint(
    data: Mapping[str, Any], public_key: VerifyKey, *, where: str, expected_key_id: str
) -> Checkpoint:
    """Check shape, key id and signature; raise :class:`IntegrityError` naming ``where``."""
    if not isinstance(data, Mapping):
        raise IntegrityError(f"{where}: a checkpoint must be a JSON object")
    fields = set(data) - {"signature", "compact_range"}
    if fields != SIGNED_FIELDS or "signature" not in data:
        raise IntegrityError(
            f"{where}: checkpoint fields expected {sorted(SIGNED_FIELDS | {'signature'})}, "
            f"got {sorted(data)}"
        )
    if data["type"] != CHECKPOINT_TYPE:
        raise IntegrityError(f"{where}: type expected {CHECKPOINT_TYPE!r}, got {data['type']!r}")
    if data["key_id"] != expected_key_id:
        raise IntegrityError(
            f"{where}: key_id expected {expected_key_id}, got {data['key_id']}: "
            "signed by another key, or not by the audit key at all"
        )
    try:
        signature = base64.b64decode(str(data["signature"]), validate=True)
        body = canonical_json({name: data[name] for name in SIGNED_FIELDS})
    except (binascii.Error, InvalidInput, ValueError):
        raise IntegrityError(f"{where}: malformed checkpoint signature or fields") from None
    try:
        verify_signature(public_key, signature, body)
    except IntegrityError:
        raise IntegrityError(
            f"{where}: signature does not verify with the audit public key "
            f"(checkpoint at tree_size {data['tree_size']} was forged or changed)"
        ) from None
    tree_size = data["tree_size"]
    if type(tree_size) is not int or tree_size < 0:
        raise IntegrityError(f"{where}: tree_size must be an integer >= 0, got {tree_size!r}")
    for name in ("root_hash", "head_hash"):
        if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
            raise IntegrityError(f"{where}: {name} must be 64 hex digits")
    return Checkpoint(tree_size, data["root_hash"], data["head_hash"], str(data["time"]),
                      data["key_id"], str(data["signature"]))


def dump_checkpoint(checkpoint: Mapping[str, Any]) -> str:
    """A checkpoint as the small JSON file an auditor keeps (``appliance audit checkpoint``)."""
    public = {k: v for k, v in checkpoint.items() if k != "compact_range"}
    return json.dumps(public, indent=2, sort_keys=True) + "\n"


def read_checkpoint_file(path: Path) -> dict[str, Any]:
    """Load a checkpoint an auditor saved; its signature is checked by ``verify_log``."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a readable checkpoint file ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: a checkpoint file holds one JSON object")
    return data


def load_public_key_file(path: Path) -> VerifyKey:
    """The audit public key from ``audit-signing.pub`` (PEM) or raw bytes on file."""
    return load_public_key(Path(path))


def export_audit_public_key(key: SigningKey | VerifyKey) -> str:
    """The PEM an auditor is given (``appliance audit pubkey``)."""
    return export_public_key(key).decode("ascii")
