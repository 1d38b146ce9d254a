"""Master-key rotation: data keys re-wrapped, data untouched, old keys destroyed, reads unbroken."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest

from appliance import db
from appliance.config import KdfParams, Settings
from appliance.crypto import vault as vault_module
from appliance.crypto.keys import FileKeySource, Keyring, PassphraseKeySource
from appliance.crypto.vault import Vault

from .conftest import grant_for

DATA = {f"record {i}".encode() * (i * 13 + 1) for i in range(5)}


def read(vault: Vault, object_id: str) -> bytes:
    return vault.read_bytes(object_id, grant_for(object_id))


def store(vault: Vault) -> dict[str, bytes]:
    return {vault.put("dataset", [data]): data for data in DATA}


def rows(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    return {r["object_id"]: r for r in conn.execute("SELECT * FROM objects")}


def test_rotation_rewraps_keys_without_reencrypting(
    vault: Vault, conn: sqlite3.Connection, home: Path
) -> None:
    objects = store(vault)
    files_before = {oid: vault.object_path(oid).read_bytes() for oid in objects}
    wrapped_before = {oid: r["wrapped_key"] for oid, r in rows(conn).items()}

    result = vault.rotate_master_key()

    assert result == {"key_version": 2, "rewrapped": len(objects), "destroyed": 1}
    for object_id, data in objects.items():
        assert vault.object_path(object_id).read_bytes() == files_before[object_id]
        assert rows(conn)[object_id]["key_version"] == 2
        assert rows(conn)[object_id]["wrapped_key"] != wrapped_before[object_id]
        assert read(vault, object_id) == data
    assert not (home / "keys" / "master-v1.key").exists()
    assert sorted(p.name for p in (home / "keys").iterdir()) == ["master-v2.key"]


def test_repeated_rotation_keeps_only_the_newest_key(vault: Vault, home: Path) -> None:
    objects = store(vault)
    vault.rotate_master_key()
    vault.put("dataset", [b"written under v2"])
    result = vault.rotate_master_key()
    assert result == {"key_version": 3, "rewrapped": len(objects) + 1, "destroyed": 1}
    assert sorted(p.name for p in (home / "keys").iterdir()) == ["master-v3.key"]
    for object_id, data in objects.items():
        assert read(vault, object_id) == data


def test_rotation_of_an_empty_vault(vault: Vault) -> None:
    assert vault.rotate_master_key() == {"key_version": 2, "rewrapped": 0, "destroyed": 1}


def test_reads_keep_working_throughout_rotation(
    vault: Vault, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between every batch of re-wrapping, another process's vault reads every object."""
    objects = store(vault)
    other_conn = db.connect(home / db.DB_FILE)
    other = Vault(home, other_conn, Keyring(FileKeySource(home / "keys")), vault.segment_size)
    some_id = next(iter(objects))
    in_flight = vault.open(some_id, grant_for(some_id))  # a read started before rotation
    first_piece = next(in_flight)
    reads_during = 0
    original = Vault._rewrap_rows

    def rewrap_then_read(self: Vault, new_version: int, limit: int) -> int:
        nonlocal reads_during
        count = original(self, new_version, limit)
        for object_id, data in objects.items():
            assert other.read_bytes(object_id, grant_for(object_id)) == data
            reads_during += 1
        return count

    monkeypatch.setattr(vault_module, "_ROTATE_BATCH", 1)
    monkeypatch.setattr(Vault, "_rewrap_rows", rewrap_then_read)
    vault.rotate_master_key()
    monkeypatch.undo()

    assert reads_during == len(objects) * (len(objects) + 1)  # one pass per batch, plus the last
    assert first_piece + b"".join(in_flight) == objects[some_id]
    # a third process that never saw the old key reads everything after rotation
    fresh = Vault(home, other_conn, Keyring(FileKeySource(home / "keys")), vault.segment_size)
    for object_id, data in objects.items():
        assert fresh.read_bytes(object_id, grant_for(object_id)) == data
    other_conn.close()


def test_reader_holding_a_stale_row_retries(vault: Vault, home: Path) -> None:
    """A reader that looked up a row just before it was re-wrapped re-reads it once."""
    objects = store(vault)
    other_conn = db.connect(home / db.DB_FILE)
    other = Vault(home, other_conn, Keyring(FileKeySource(home / "keys")), vault.segment_size)
    real_execute = other_conn.execute
    rotated = False

    class RotatingConnection:
        """Rotates right after the reader's first SELECT, before it loads the master key."""

        def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
            nonlocal rotated
            cursor = real_execute(sql, params)
            if sql.startswith("SELECT kind") and not rotated:
                rotated = True
                rows = cursor.fetchall()
                vault.rotate_master_key()
                return _Rows(rows)  # type: ignore[return-value]
            return cursor

    other._conn = RotatingConnection()  # type: ignore[assignment]
    object_id, data = next(iter(objects.items()))
    assert other.read_bytes(object_id, grant_for(object_id)) == data
    assert rotated
    other_conn.close()


class _Rows:
    def __init__(self, rows: list[sqlite3.Row]) -> None:
        self._rows = rows

    def fetchone(self) -> sqlite3.Row | None:
        return self._rows[0] if self._rows else None


def test_object_registered_under_the_old_key_mid_rotation_is_not_lost(
    vault: Vault, home: Path, conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that picked its key version just before rotation began still gets re-wrapped."""
    objects = store(vault)

    class StaleKeyring(Keyring):
        @property
        def current_version(self) -> int:
            return 1

    stale = Vault(home, conn, StaleKeyring(FileKeySource(home / "keys")), vault.segment_size)
    original = Vault._rewrap_rows
    late: dict[str, bytes] = {}

    def rewrap_with_a_late_writer(self: Vault, new_version: int, limit: int) -> int:
        count = original(self, new_version, limit)
        if not late:
            conn.execute("COMMIT")  # let the late writer in between two batches
            late[stale.put("dataset", [b"late"])] = b"late"
            conn.execute("BEGIN IMMEDIATE")
        return count

    monkeypatch.setattr(vault_module, "_ROTATE_BATCH", 2)
    monkeypatch.setattr(Vault, "_rewrap_rows", rewrap_with_a_late_writer)
    vault.rotate_master_key()
    monkeypatch.undo()
    for object_id, data in {**objects, **late}.items():
        assert read(vault, object_id) == data
    assert {r["key_version"] for r in conn.execute("SELECT key_version FROM objects")} == {2}


def test_rotation_with_a_passphrase_source(home: Path, conn: sqlite3.Connection) -> None:
    settings = Settings(
        key_source="passphrase",
        passphrase_env="TEST_PASSPHRASE",
        kdf=KdfParams(salt_b64=base64.b64encode(b"s" * 16).decode(), n=2**14),
    )
    source = PassphraseKeySource(home / "keys", settings, environ={"TEST_PASSPHRASE": "pw"})
    keyring = Keyring(source)
    keyring.ensure_initial_key()
    vault = Vault(home, conn, keyring, 128)
    object_id = vault.put("dataset", [b"under a passphrase"])
    assert vault.rotate_master_key()["key_version"] == 2
    assert sorted(p.name for p in (home / "keys").iterdir()) == ["master-v2.key.enc"]
    fresh = Keyring(PassphraseKeySource(home / "keys", settings, environ={"TEST_PASSPHRASE": "pw"}))
    assert Vault(home, conn, fresh, 128).read_bytes(object_id, grant_for(object_id)) == (
        b"under a passphrase"
    )
