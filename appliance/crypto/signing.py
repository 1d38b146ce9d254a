"""Ed25519 signing keys (RFC 8032) for the audit log's checkpoints and for export bundles.

The private key is stored as unencrypted PKCS#8 PEM (RFC 5958, RFC 8410) with mode 0600, and its
public half as SubjectPublicKeyInfo PEM beside it (``audit-signing.key`` -> ``audit-signing.pub``),
so an auditor can be handed the public key alone. Signing keys are separate from master keys:
rotating the master key must not invalidate signatures already issued.
"""

from __future__ import annotations

from pathlib import Path

from appliance.crypto._files import write_new_file
from appliance.crypto._primitives import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
    PrimitiveFailure,
    dump_private_pem,
    dump_public_pem,
    generate_ed25519,
    load_private_pem,
    load_public_pem,
    load_public_raw,
    sign_ed25519,
    verify_ed25519,
)
from appliance.crypto.keys import check_key_permissions
from appliance.errors import ConfigurationError, Conflict, IntegrityError

#: The types other subpackages annotate with (they must not import ``cryptography.hazmat``).
SigningKey = Ed25519PrivateKey
VerifyKey = Ed25519PublicKey

ED25519_PUBLIC_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


def public_key_path(path: Path) -> Path:
    """Where the public half of the signing key at ``path`` lives: same name, ``.pub``."""
    return Path(path).with_suffix(".pub")


def generate_signing_key(path: Path) -> SigningKey:
    """Create a new Ed25519 key at ``path`` (PKCS#8 PEM, 0600) and its ``.pub`` beside it.

    Refuses (:class:`Conflict`) to overwrite an existing key: signatures made with it would no
    longer verify.
    """
    path = Path(path)
    key = generate_ed25519()
    try:
        write_new_file(path, dump_private_pem(key))
    except FileExistsError:
        raise Conflict(f"signing key {path} already exists; refusing to overwrite it") from None
    pub_path = public_key_path(path)
    try:
        write_new_file(pub_path, dump_public_pem(key.public_key()))
    except FileExistsError:
        raise Conflict(f"public key {pub_path} already exists; refusing to overwrite it") from None
    return key


def load_signing_key(path: Path) -> SigningKey:
    """Load a private signing key, after checking that only its owner can read it."""
    path = Path(path)
    check_key_permissions(path)
    try:
        return load_private_pem(path.read_bytes())
    except PrimitiveFailure:
        raise ConfigurationError(f"{path} is not an Ed25519 private key in PKCS#8 PEM") from None


def load_public_key(source: Path | bytes) -> VerifyKey:
    """A public key from a ``.pub`` file, PEM bytes, or the raw 32-byte encoding."""
    if isinstance(source, bytes):
        data, name = source, "the given public key"
    else:
        data, name = Path(source).read_bytes(), str(source)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return load_public_pem(data)
        if len(data) == ED25519_PUBLIC_BYTES:
            return load_public_raw(data)
    except PrimitiveFailure:
        pass
    raise ConfigurationError(f"{name} is not an Ed25519 public key (PEM or raw 32 bytes)")


def export_public_key(key: SigningKey | VerifyKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a key pair's public half, for bundles and auditors."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return dump_public_pem(public)


def sign(key: SigningKey, data: bytes) -> bytes:
    """A 64-byte Ed25519 signature over ``data``."""
    return sign_ed25519(key, data)


def verify_signature(public_key: VerifyKey, signature: bytes, data: bytes) -> None:
    """Return if ``signature`` is ``public_key``'s over ``data``; else :class:`IntegrityError`."""
    try:
        verify_ed25519(public_key, signature, data)
    except PrimitiveFailure:
        raise IntegrityError(
            "signature does not verify: the data or the signature was changed, "
            "or it was made with another key"
        ) from None
