"""Atomic writes: a writer process SIGKILLed mid-write leaves no partial object.

The child runs a real vault writer in its own interpreter and is killed at two points: while
segments are still being written, and after the ciphertext got its final name but before the
row was committed. Neither leaves an object that can be listed or read, and the next Vault open
sweeps what is left.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.crypto.keys import Keyring
from appliance.crypto.vault import Vault
from appliance.errors import NotFound

from .conftest import TEST_SEGMENT_SIZE, grant_for

CHILD = """
import os, signal, sys, time
from pathlib import Path
from appliance import db
from appliance.crypto.keys import FileKeySource, Keyring
from appliance.crypto.vault import Vault

home, mode = Path(sys.argv[1]), sys.argv[2]
conn = db.connect(home / db.DB_FILE)
vault = Vault(home, conn, Keyring(FileKeySource(home / "keys")), int(sys.argv[3]))
if mode == "after-link":
    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)
    vault._register = die
with vault.writer("dataset") as writer:
    writer.write(b"secret record: Maria Lopez, 415 555 0199\\n" * 500)
    print(writer.object_id, flush=True)
    if mode == "mid-write":
        time.sleep(120)
"""


def run_and_kill(home: Path, mode: str) -> str:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home), mode, str(TEST_SEGMENT_SIZE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        object_id = child.stdout.readline().strip()
        if mode == "mid-write":
            child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert object_id.startswith("obj_")
    return object_id


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("mode", ["mid-write", "after-link"])
def test_killed_writer_leaves_no_partial_object(
    mode: str, home: Path, conn: sqlite3.Connection, keyring: Keyring
) -> None:
    object_id = run_and_kill(home, mode)

    # Before any cleanup: nothing listable, nothing readable, no plaintext on disk.
    assert conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
    leftovers = files_under(home / "tmp") + files_under(home / "objects")
    assert leftovers, "the crash should have left a temp file behind"
    for path in leftovers:
        assert b"Maria Lopez" not in path.read_bytes()

    vault = Vault(home, conn, keyring, TEST_SEGMENT_SIZE)  # opening sweeps
    assert not vault.exists(object_id)
    with pytest.raises(NotFound):
        vault.read_bytes(object_id, grant_for(object_id))
    assert files_under(home / "tmp") == []
    assert files_under(home / "objects") == []

    # and the vault works normally afterwards
    new_id = vault.put("dataset", [b"after the crash"])
    assert vault.read_bytes(new_id, grant_for(new_id)) == b"after the crash"


def test_crash_after_commit_keeps_the_object(
    home: Path, conn: sqlite3.Connection, keyring: Keyring
) -> None:
    """A temp name left over after the row committed is tidied; the object itself stays."""
    vault = Vault(home, conn, keyring, TEST_SEGMENT_SIZE)
    object_id = vault.put("dataset", [b"committed"])
    final = vault.object_path(object_id)
    stray = home / "tmp" / f"vault-{object_id}-{'0' * 12}.part"
    stray.hardlink_to(final)  # as if the writer died between commit and unlinking its temp name
    Vault(home, conn, keyring, TEST_SEGMENT_SIZE)  # opening sweeps
    assert not stray.exists()
    assert final.exists()
    assert vault.read_bytes(object_id, grant_for(object_id)) == b"committed"
