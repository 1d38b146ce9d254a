"""WARNING: hazardous materials. Do not use this module outside ``appliance.crypto``.

This is the only module of the appliance that imports ``cryptography.hazmat``. It exposes the raw
primitives the recipe layer is built from, with nothing to stop a caller from reusing a nonce,
skipping a tag check or mixing up keys. Everything else, inside the appliance and out, uses the
recipes: ``encrypt_stream``/``decrypt_stream``, ``wrap_key``/``unwrap_key``, the key sources and the
vault.

Primitives and the specifications they implement:

- AES-256-GCM: NIST SP 800-38D; 96-bit nonces, 128-bit tags.
- HKDF-SHA256: RFC 5869.
- scrypt: RFC 7914.
- Ed25519: RFC 8032; keys serialized as PKCS#8 (RFC 5958) and SubjectPublicKeyInfo (RFC 8410) PEM.

Every authentication failure surfaces as :class:`PrimitiveFailure`, which carries no detail; the
recipe layer turns it into the appliance's one opaque :class:`~appliance.errors.IntegrityError`.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = [
    "AES_KEY_BYTES",
    "GCM_NONCE_BYTES",
    "GCM_TAG_BYTES",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "GcmCipher",
    "PrimitiveFailure",
    "derive_hkdf_sha256",
    "derive_scrypt",
    "dump_private_pem",
    "dump_public_pem",
    "generate_ed25519",
    "load_private_pem",
    "load_public_pem",
    "load_public_raw",
    "random_bytes",
    "sign_ed25519",
    "verify_ed25519",
]

AES_KEY_BYTES = 32
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16


class PrimitiveFailure(Exception):
    """A tag, signature or encoding did not verify. Deliberately carries no detail."""


def random_bytes(length: int) -> bytes:
    """Key material, salts and nonces: the OS CSPRNG (getrandom(2) on Linux)."""
    return os.urandom(length)


class GcmCipher:
    """AES-256-GCM under one key (SP 800-38D). The caller owns nonce uniqueness."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        # Validate in the constructor (as Fernet does) so a short key can never reach a cipher.
        if len(key) != AES_KEY_BYTES:
            raise ValueError(f"AES-256-GCM needs a {AES_KEY_BYTES}-byte key, got {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes | memoryview, aad: bytes | None) -> bytes:
        """Return ciphertext || 16-byte tag."""
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, ciphertext: bytes | memoryview, aad: bytes | None) -> bytes:
        """Verify the tag, then decrypt; nothing is released on failure."""
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise PrimitiveFailure() from None


def derive_hkdf_sha256(ikm: bytes, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA256, extract-then-expand (RFC 5869 section 2)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def derive_scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    """scrypt (RFC 7914): a memory-hard stretch of a low-entropy passphrase."""
    return Scrypt(salt=salt, length=length, n=n, r=r, p=p).derive(secret)


def generate_ed25519() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def dump_private_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: the file's 0600 mode is what protects it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def dump_public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_pem(data: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PrimitiveFailure() from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PrimitiveFailure()
    return key


def load_public_pem(data: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise PrimitiveFailure() from None
    if not isinstance(key, Ed25519PublicKey):
        raise PrimitiveFailure()
    return key


def load_public_raw(data: bytes) -> Ed25519PublicKey:
    """A bare 32-byte Ed25519 public key (RFC 8032 section 5.1.5 encoding)."""
    try:
        return Ed25519PublicKey.from_public_bytes(data)
    except ValueError:
        raise PrimitiveFailure() from None


def sign_ed25519(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verify_ed25519(key: Ed25519PublicKey, signature: bytes, data: bytes) -> None:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise PrimitiveFailure() from None
