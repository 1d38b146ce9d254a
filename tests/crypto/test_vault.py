"""The vault: per-object keys, grants, atomic writes, and tampering with stored objects."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.crypto.keys import Keyring
from appliance.crypto.streaming import HEADER_BYTES
from appliance.crypto.vault import _GATE_SEAL, AccessGrant, Vault, new_object_id
from appliance.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
)

from .conftest import grant_for

RECORD = b'{"text": "Call Maria Lopez at +1 415 555 0199 about ticket 4411"}\n'


def read(vault: Vault, object_id: str) -> bytes:
    return vault.read_bytes(object_id, grant_for(object_id))


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def row(conn: sqlite3.Connection, object_id: str) -> sqlite3.Row:
    return conn.execute("SELECT * FROM objects WHERE object_id = ?", (object_id,)).fetchone()


# -- storing and reading -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 71, 72, 73, 1000, 20_000])
def test_put_and_read_back(vault: Vault, size: int) -> None:
    data = os.urandom(size)
    object_id = vault.put("dataset", [data[:size // 3], data[size // 3 :]])
    assert read(vault, object_id) == data
    assert vault.exists(object_id)


def test_object_ids_are_random_and_well_formed(vault: Vault) -> None:
    ids = {new_object_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"obj_[a-z2-7]{26}", i) for i in ids)


def test_row_records_key_version_wrapped_key_and_size(
    vault: Vault, conn: sqlite3.Connection
) -> None:
    object_id = vault.put("report", [RECORD])
    record = row(conn, object_id)
    assert record["kind"] == "report"
    assert record["key_version"] == 1
    assert len(record["wrapped_key"]) == 1 + 12 + 32 + 16
    assert record["size"] == vault.object_path(object_id).stat().st_size
    assert record["created_at"] and record["shredded_at"] is None


def test_each_object_has_its_own_data_key(vault: Vault, conn: sqlite3.Connection) -> None:
    first, second = vault.put("dataset", [RECORD]), vault.put("dataset", [RECORD])
    assert row(conn, first)["wrapped_key"] != row(conn, second)["wrapped_key"]
    # the envelope's key id names the data key: different objects, different ids
    header = vault.object_path(first).read_bytes()[:17]
    assert header != vault.object_path(second).read_bytes()[:17]


def test_no_plaintext_and_private_modes_on_disk(vault: Vault, home: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        object_id = vault.put("dataset", [RECORD * 50])
    finally:
        os.umask(old_umask)
    path = vault.object_path(object_id)
    assert path.relative_to(home).parts[0] == "objects"
    assert re.fullmatch(r"[0-9a-f]{2}", path.parent.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for file in all_files(home):
        assert b"Maria Lopez" not in file.read_bytes(), file


def test_open_streams_in_chunks(vault: Vault) -> None:
    data = os.urandom(5000)
    object_id = vault.put("dataset", [data])
    pieces = list(vault.open(object_id, grant_for(object_id)))
    assert len(pieces) > 1 and b"".join(pieces) == data


def test_large_object_in_constant_memory(vault: Vault) -> None:
    def source() -> Iterator[bytes]:
        block = os.urandom(64 << 10)
        for _ in range(64):  # 4 MiB
            yield block

    tracemalloc.start()
    try:
        object_id = vault.put("checkpoint", source())
        total = sum(len(piece) for piece in vault.open(object_id, grant_for(object_id)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 4 << 20
    assert peak < 3 << 20  # one 1 MiB read buffer and a few segments, never the object


def test_unknown_object_is_not_found(vault: Vault) -> None:
    object_id = new_object_id()
    with pytest.raises(NotFound, match=object_id):
        read(vault, object_id)
    assert not vault.exists(object_id)


@pytest.mark.parametrize("kind", ["", "Dataset", "a b", "x" * 65, "../etc"])
def test_invalid_kind_is_refused(vault: Vault, kind: str) -> None:
    with pytest.raises(InvalidInput, match="invalid object kind"):
        vault.writer(kind)


@pytest.mark.parametrize(
    "object_id", ["obj_", "obj_../../../../etc/passwd", "x" * 30, "OBJ_" + "a" * 26]
)
def test_invalid_object_id_is_refused(vault: Vault, object_id: str) -> None:
    with pytest.raises(InvalidInput, match="invalid object id"):
        vault.writer("dataset", object_id)


def test_segment_size_is_validated(home: Path, conn: sqlite3.Connection, keyring: Keyring) -> None:
    with pytest.raises(ConfigurationError, match="segment_size"):
        Vault(home, conn, keyring, 10)


# -- grants --------------------------------------------------------------------------------


def test_grant_cannot_be_minted_without_the_gate_seal() -> None:
    with pytest.raises(AccessDenied, match="only the data-access gate"):
        AccessGrant("obj_" + "a" * 26, "hash")
    with pytest.raises(AccessDenied):
        AccessGrant("obj_" + "a" * 26, "hash", _seal=object())


def test_grant_is_for_one_object_only(vault: Vault) -> None:
    mine, other = vault.put("dataset", [b"mine"]), vault.put("dataset", [b"other"])
    with pytest.raises(AccessDenied, match=other):
        vault.open(other, grant_for(mine))
    with pytest.raises(AccessDenied):
        vault.read_bytes(other, grant_for(mine))


def test_lookalike_grant_is_refused(vault: Vault) -> None:
    class FakeGrant:
        object_id = "obj_" + "a" * 26
        audit_hash = "hash"

    object_id = vault.put("dataset", [b"x"])
    FakeGrant.object_id = object_id
    with pytest.raises(AccessDenied):
        vault.open(object_id, FakeGrant())  # type: ignore[arg-type]


def test_grant_is_immutable() -> None:
    grant = AccessGrant("obj_" + "a" * 26, "hash", _seal=_GATE_SEAL)
    with pytest.raises(AttributeError):
        grant.object_id = "obj_" + "b" * 26  # type: ignore[misc]


# -- atomic writer -------------------------------------------------------------------------


def test_writer_commits_on_clean_exit(vault: Vault) -> None:
    with vault.writer("dataset") as writer:
        writer.write(RECORD)
        writer.write(RECORD)
        assert not vault.exists(writer.object_id)  # nothing is visible before commit
    assert read(vault, writer.object_id) == RECORD * 2


def test_writer_leaves_nothing_on_error(vault: Vault, home: Path, conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError, match="parse error"):
        with vault.writer("dataset") as writer:
            writer.write(RECORD * 100)
            raise RuntimeError("parse error")
    assert row(conn, writer.object_id) is None
    assert all_files(home / "objects") == []
    assert all_files(home / "tmp") == []


def test_writer_cannot_write_after_commit(vault: Vault) -> None:
    with vault.writer("dataset") as writer:
        writer.write(b"x")
    with pytest.raises(ValueError, match="outside an open writer"):
        writer.write(b"y")


def test_existing_object_is_never_replaced(vault: Vault, home: Path) -> None:
    object_id = new_object_id()
    first, second = vault.writer("dataset", object_id), vault.writer("dataset", object_id)
    with first:
        first.write(b"first")
    with pytest.raises(Conflict, match="already exists"):
        with second:
            second.write(b"second")
    assert read(vault, object_id) == b"first"
    assert all_files(home / "tmp") == []
    with pytest.raises(Conflict):
        vault.writer("dataset", object_id)


def test_failed_registration_removes_the_linked_file(
    vault: Vault, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(vault, "_register", fail)
    with pytest.raises(sqlite3.OperationalError):
        vault.put("dataset", [RECORD])
    assert all_files(home / "objects") == [] and all_files(home / "tmp") == []


def test_live_writer_survives_a_sweep_by_another_vault(
    vault: Vault, home: Path, keyring: Keyring
) -> None:
    from appliance import db

    with vault.writer("dataset") as writer:
        writer.write(RECORD * 10)
        other_conn = db.connect(home / db.DB_FILE)
        try:
            other = Vault(home, other_conn, keyring, vault.segment_size)  # sweeps on open
            assert other.sweep() == 0
        finally:
            other_conn.close()
        assert len(all_files(home / "tmp")) == 1
    assert read(vault, writer.object_id) == RECORD * 10


def test_a_sweep_between_creating_and_locking_the_temp_file_does_not_break_the_writer(
    vault: Vault, home: Path, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Concurrent uploads each open a Vault, and opening sweeps: a sweep can find a writer's
    # brand-new temp file before the writer has locked it, and delete it as a crash's leftover.
    from appliance import db
    from appliance.crypto import vault as vault_module

    real_flock = vault_module.fcntl.flock
    swept: list[int] = []

    def sweep_first(fd: int, operation: int) -> None:
        if not swept and operation == vault_module.fcntl.LOCK_EX:
            other_conn = db.connect(home / db.DB_FILE)
            try:
                swept.append(Vault(home, other_conn, keyring, vault.segment_size).sweep() + 1)
            finally:
                other_conn.close()
        real_flock(fd, operation)

    monkeypatch.setattr(vault_module.fcntl, "flock", sweep_first)
    object_id = vault.put("dataset", [RECORD])
    assert swept, "the sweep ran in the window"
    assert read(vault, object_id) == RECORD
    assert all_files(home / "tmp") == []


# -- tampering with stored objects ---------------------------------------------------------


def test_flipped_bit_in_stored_object(vault: Vault) -> None:
    object_id = vault.put("dataset", [RECORD * 20])
    path = vault.object_path(object_id)
    data = bytearray(path.read_bytes())
    data[HEADER_BYTES + 200] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=f"object {object_id} failed authentication"):
        read(vault, object_id)


def test_truncated_stored_object(vault: Vault) -> None:
    object_id = vault.put("dataset", [RECORD * 20])
    path = vault.object_path(object_id)
    path.write_bytes(path.read_bytes()[: 17 + 128])  # exactly at a segment boundary
    with pytest.raises(IntegrityError, match="changed, truncated or moved"):
        read(vault, object_id)


def test_ciphertext_files_swapped_between_objects(vault: Vault) -> None:
    first, second = vault.put("dataset", [b"first" * 40]), vault.put("dataset", [b"second" * 40])
    a, b = vault.object_path(first), vault.object_path(second)
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    for object_id in (first, second):
        with pytest.raises(IntegrityError, match=object_id):
            read(vault, object_id)


def test_header_moved_from_another_object(vault: Vault) -> None:
    first, second = vault.put("dataset", [b"first" * 40]), vault.put("dataset", [b"second" * 40])
    a, b = vault.object_path(first), vault.object_path(second)
    a.write_bytes(b.read_bytes()[:HEADER_BYTES] + a.read_bytes()[HEADER_BYTES:])
    with pytest.raises(IntegrityError):
        read(vault, first)


def test_wrapped_keys_swapped_between_rows(vault: Vault, conn: sqlite3.Connection) -> None:
    first, second = vault.put("dataset", [b"first"]), vault.put("dataset", [b"second"])
    key_a, key_b = row(conn, first)["wrapped_key"], row(conn, second)["wrapped_key"]
    conn.execute("UPDATE objects SET wrapped_key = ? WHERE object_id = ?", (key_b, first))
    conn.execute("UPDATE objects SET wrapped_key = ? WHERE object_id = ?", (key_a, second))
    with pytest.raises(IntegrityError, match=first):
        read(vault, first)


def test_kind_changed_in_the_database(vault: Vault, conn: sqlite3.Connection) -> None:
    object_id = vault.put("report", [b"report"])
    conn.execute("UPDATE objects SET kind = 'dataset' WHERE object_id = ?", (object_id,))
    with pytest.raises(IntegrityError, match=object_id):
        read(vault, object_id)


def test_key_version_relabelled_in_the_database(
    vault: Vault, conn: sqlite3.Connection, keyring: Keyring
) -> None:
    object_id = vault.put("dataset", [b"x"])
    keyring.rotate()  # v2 exists, but this object's key is wrapped under v1
    conn.execute("UPDATE objects SET key_version = 2 WHERE object_id = ?", (object_id,))
    with pytest.raises(IntegrityError, match=object_id):
        read(vault, object_id)


def test_missing_ciphertext_file(vault: Vault) -> None:
    object_id = vault.put("dataset", [b"x"])
    vault.object_path(object_id).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        read(vault, object_id)
