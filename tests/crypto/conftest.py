"""Fixtures for the crypto tests: a private home with a database, a keyring and a vault."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import db
from appliance.crypto.keys import FileKeySource, Keyring
from appliance.crypto.vault import _GATE_SEAL, AccessGrant, Vault

# Small segments so a few KiB already spans many segments.
TEST_SEGMENT_SIZE = 128


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    root.mkdir(mode=0o700)
    (root / "keys").mkdir(mode=0o700)
    return root


@pytest.fixture
def conn(home: Path) -> Iterator[sqlite3.Connection]:
    connection = db.connect(home / db.DB_FILE)
    db.migrate(connection)
    yield connection
    connection.close()


@pytest.fixture
def keyring(home: Path) -> Keyring:
    ring = Keyring(FileKeySource(home / "keys"))
    ring.ensure_initial_key()
    return ring


@pytest.fixture
def vault(home: Path, conn: sqlite3.Connection, keyring: Keyring) -> Vault:
    return Vault(home, conn, keyring, TEST_SEGMENT_SIZE)


def grant_for(object_id: str) -> AccessGrant:
    """What the gate hands the vault after auditing a read."""
    return AccessGrant(object_id, "audit-hash", _seal=_GATE_SEAL)
