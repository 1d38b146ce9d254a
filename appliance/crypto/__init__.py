"""Cryptography for the appliance: a small recipe layer over one marked-dangerous module.

Key hierarchy: master key (versioned; key file, passphrase, later an HSM) -> per-object data key
(random, wrapped by the master key) -> object (Tink AES-GCM-HKDF streaming AEAD). Signing keys
(Ed25519) are separate. Only ``_primitives`` imports ``cryptography.hazmat``; nothing here exposes
a nonce, a raw cipher or a MAC. docs/security-crypto.md describes the design and its tests.
"""

from appliance.crypto.keys import (
    FileKeySource,
    Keyring,
    KeySource,
    PassphraseKeySource,
    check_key_permissions,
    derive_kek,
)
from appliance.crypto.signing import (
    SigningKey,
    VerifyKey,
    export_public_key,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    public_key_path,
    sign,
    verify_signature,
)
from appliance.crypto.streaming import (
    DEFAULT_SEGMENT_SIZE,
    StreamDecrypter,
    StreamEncrypter,
    decrypt_stream,
    encrypt_stream,
)
from appliance.crypto.wrapping import generate_data_key, unwrap_key, wrap_key

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FileKeySource",
    "KeySource",
    "Keyring",
    "PassphraseKeySource",
    "SigningKey",
    "StreamDecrypter",
    "StreamEncrypter",
    "VerifyKey",
    "check_key_permissions",
    "decrypt_stream",
    "derive_kek",
    "encrypt_stream",
    "export_public_key",
    "generate_data_key",
    "generate_signing_key",
    "load_public_key",
    "load_signing_key",
    "public_key_path",
    "sign",
    "unwrap_key",
    "verify_signature",
    "wrap_key",
]
