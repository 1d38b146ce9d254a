"""Crypto-shredding: once the wrapped data key is gone, no copy of the ciphertext decrypts."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from appliance import db
from appliance.crypto.keys import Keyring
from appliance.crypto.streaming import decrypt_stream
from appliance.crypto.vault import Vault, data_key_binding
from appliance.crypto.wrapping import unwrap_key
from appliance.errors import IntegrityError, NotFound

from .conftest import grant_for

SECRET = b"patient 4411: diagnosis withheld\n" * 20


def read(vault: Vault, object_id: str) -> bytes:
    return vault.read_bytes(object_id, grant_for(object_id))


def test_shred_destroys_key_then_ciphertext(vault: Vault, conn: sqlite3.Connection) -> None:
    object_id = vault.put("dataset", [SECRET])
    keep = vault.put("dataset", [b"keep me"])
    vault.shred(object_id)
    record = conn.execute("SELECT * FROM objects WHERE object_id = ?", (object_id,)).fetchone()
    assert record["wrapped_key"] is None and record["shredded_at"]
    assert not vault.object_path(object_id).exists()
    assert not vault.exists(object_id)
    with pytest.raises(NotFound, match="shredded"):
        read(vault, object_id)
    assert read(vault, keep) == b"keep me"


def test_saved_copy_of_the_ciphertext_cannot_be_decrypted(vault: Vault, tmp_path: Path) -> None:
    object_id = vault.put("dataset", [SECRET])
    saved = tmp_path / "backup-of-object"
    shutil.copyfile(vault.object_path(object_id), saved)
    vault.shred(object_id)
    # the attacker puts the saved ciphertext back where it was
    shutil.copyfile(saved, vault.object_path(object_id))
    with pytest.raises(NotFound, match="shredded"):
        read(vault, object_id)


def test_wrapped_key_is_gone_from_the_database_files(
    vault: Vault, conn: sqlite3.Connection, home: Path
) -> None:
    """secure_delete and a checkpoint: the old wrapped key is in neither the db nor its WAL."""
    object_id = vault.put("dataset", [SECRET])
    wrapped = conn.execute(
        "SELECT wrapped_key FROM objects WHERE object_id = ?", (object_id,)
    ).fetchone()["wrapped_key"]
    vault.shred(object_id)
    for path in home.glob(db.DB_FILE + "*"):
        assert bytes(wrapped) not in path.read_bytes(), path


def test_shred_then_rotate_makes_a_saved_wrapped_key_useless(
    vault: Vault, conn: sqlite3.Connection, keyring: Keyring, tmp_path: Path
) -> None:
    """Even a backup of the database row is useless once the master key that wrapped it is gone."""
    object_id = vault.put("dataset", [SECRET])
    saved_key = bytes(
        conn.execute(
            "SELECT wrapped_key FROM objects WHERE object_id = ?", (object_id,)
        ).fetchone()["wrapped_key"]
    )
    saved_ciphertext = vault.object_path(object_id).read_bytes()
    vault.shred(object_id)
    vault.rotate_master_key()
    assert keyring.versions() == [2]
    for version in keyring.versions():
        with pytest.raises(IntegrityError):
            unwrap_key(keyring.key(version), saved_key, data_key_binding(object_id, 1))
        with pytest.raises(IntegrityError):
            b"".join(decrypt_stream(keyring.key(version), [saved_ciphertext], b""))


def test_shred_is_idempotent_and_unknown_objects_are_not_found(vault: Vault) -> None:
    object_id = vault.put("dataset", [SECRET])
    vault.shred(object_id)
    vault.shred(object_id)
    with pytest.raises(NotFound):
        vault.shred("obj_" + "a" * 26)


def test_interrupted_shred_is_finished_by_the_next_open(
    vault: Vault, home: Path, conn: sqlite3.Connection, keyring: Keyring
) -> None:
    """Crash after the key was destroyed but before the file was deleted: the sweep deletes it."""
    object_id = vault.put("dataset", [SECRET])
    leftover = vault.object_path(object_id).read_bytes()
    vault.shred(object_id)
    vault.object_path(object_id).write_bytes(leftover)  # as if the unlink never happened
    Vault(home, conn, keyring, vault.segment_size)
    assert not vault.object_path(object_id).exists()
