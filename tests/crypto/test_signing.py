"""Ed25519 signing keys: files, permissions, signatures."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from appliance.crypto.signing import (
    export_public_key,
    generate_signing_key,
    load_public_key,
    load_signing_key,
    sign,
    verify_signature,
)
from appliance.errors import ConfigurationError, Conflict, IntegrityError


@pytest.fixture
def key_path(home: Path) -> Path:
    path = home / "keys" / "audit-signing.key"
    generate_signing_key(path)
    return path


def test_generates_private_pkcs8_and_public_pem(key_path: Path) -> None:
    pub_path = key_path.with_name("audit-signing.pub")
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert pub_path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub_path.stat().st_mode) == 0o600
    assert export_public_key(load_signing_key(key_path)) == pub_path.read_bytes()


def test_sign_and_verify(key_path: Path) -> None:
    key = load_signing_key(key_path)
    signature = sign(key, b"checkpoint 42")
    assert len(signature) == 64
    public = load_public_key(key_path.with_suffix(".pub"))
    verify_signature(public, signature, b"checkpoint 42")


@pytest.mark.parametrize("damage", ["data", "signature"])
def test_changed_data_or_signature_fails(key_path: Path, damage: str) -> None:
    key = load_signing_key(key_path)
    data, signature = b"checkpoint 42", sign(key, b"checkpoint 42")
    if damage == "data":
        data = b"checkpoint 43"
    else:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(IntegrityError, match="signature does not verify"):
        verify_signature(key.public_key(), signature, data)


def test_signature_by_another_key_fails(key_path: Path, tmp_path: Path) -> None:
    other = generate_signing_key(tmp_path / "other.key")
    signature = sign(other, b"data")
    with pytest.raises(IntegrityError):
        verify_signature(load_public_key(key_path.with_suffix(".pub")), signature, b"data")


def test_public_key_from_pem_or_raw_bytes(key_path: Path) -> None:
    key = load_signing_key(key_path)
    pem = key_path.with_suffix(".pub").read_bytes()
    raw = load_public_key(pem).public_bytes_raw()
    assert len(raw) == 32
    signature = sign(key, b"x")
    verify_signature(load_public_key(raw), signature, b"x")


@pytest.mark.parametrize("data", [b"", b"-----BEGIN PUBLIC KEY-----\nnope\n", b"x" * 31])
def test_malformed_public_key_is_refused(data: bytes) -> None:
    with pytest.raises(ConfigurationError, match="not an Ed25519 public key"):
        load_public_key(data)


def test_never_overwrites_a_signing_key(key_path: Path) -> None:
    before = key_path.read_bytes()
    with pytest.raises(Conflict, match="refusing to overwrite"):
        generate_signing_key(key_path)
    assert key_path.read_bytes() == before


def test_readable_signing_key_is_refused(key_path: Path) -> None:
    key_path.chmod(0o640)
    with pytest.raises(ConfigurationError, match=f"chmod 600 {key_path}"):
        load_signing_key(key_path)


def test_garbage_signing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(b"not a key")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError, match="not an Ed25519 private key"):
        load_signing_key(path)
