"""The vault: every stored object encrypted at rest under its own random data key.

- Each object gets a fresh 256-bit data key and is encrypted with the streaming AEAD
  (``streaming.py``, Tink AES-GCM-HKDF) bound to ``(object id, kind)``. The data key is wrapped by
  the current master key, bound to ``(object id, master-key version)``; the ``objects`` row records
  ``key_version`` and ``wrapped_key``. The ciphertext lives in ``objects/<2 hex>/<object_id>``.
- Writes are atomic and durable: ciphertext goes to ``tmp/``, is fsynced, gets its final name by
  link(2) (which, unlike rename(2), refuses to replace an existing object), the directory is
  fsynced, and only then is the row inserted, in one transaction. Until the row exists the object
  can be neither listed nor read, and a crash leaves at most files that the next ``Vault`` sweeps.
- Reads need an :class:`AccessGrant` for that exact object id, which only the data-access gate
  (``appliance.gate``) can mint; there is no other path to plaintext.
- Rotation re-wraps data keys under a new master key (no data is re-encrypted) and then destroys
  the old master keys. Shredding destroys the wrapped data key first, so no copy of the ciphertext
  can be decrypted afterwards, and only then deletes the ciphertext.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from appliance import db
from appliance.crypto._files import ensure_private_dir, fsync_dir
from appliance.crypto._primitives import random_bytes
from appliance.crypto.binding import encode_binding
from appliance.crypto.keys import Keyring
from appliance.crypto.streaming import (
    DEFAULT_SEGMENT_SIZE,
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    StreamEncrypter,
    decrypt_stream,
)
from appliance.crypto.wrapping import generate_data_key, unwrap_key, wrap_key
from appliance.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
)

OBJECTS_DIR = "objects"
TMP_DIR = "tmp"
OBJECT_ID_PREFIX = "obj_"
READ_CHUNK_BYTES = 1 << 20

_OBJECT_ID_RE = re.compile(r"obj_[a-z2-7]{26}")
_KIND_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
# A writer's temp file names its object, so a sweep after a crash knows what to clean up.
_TMP_RE = re.compile(r"vault-(obj_[a-z2-7]{26})-[0-9a-f]{12}\.part")
#: Tries at a temp file that no concurrent sweep removed before it was locked.
_TEMP_ATTEMPTS = 8
_ROTATE_BATCH = 256

# Only the gate imports this. It is a guard against accidental second paths to plaintext, not a
# security boundary against code running in this process (nothing in Python can be).
_GATE_SEAL = object()

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_object_id() -> str:
    """``obj_`` + 26 lowercase base32 characters: 128 random bits (RFC 4648 alphabet)."""
    return OBJECT_ID_PREFIX + base64.b32encode(random_bytes(16)).decode("ascii")[:26].lower()


def object_binding(object_id: str, kind: str) -> bytes:
    """Associated data of an object's ciphertext: it only decrypts as this id and this kind."""
    return encode_binding("appliance.vault.object.v1", object_id, kind)


def data_key_binding(object_id: str, key_version: int) -> bytes:
    """Associated data of a wrapped data key: this object, this master-key version."""
    return encode_binding("appliance.vault.data-key.v1", object_id, key_version)


def _integrity_failure(object_id: str) -> IntegrityError:
    return IntegrityError(
        f"object {object_id} failed authentication: it was changed, truncated or moved"
    )


class AccessGrant:
    """Permission to decrypt one object, minted by the gate after the audit event was written."""

    __slots__ = ("object_id", "audit_hash")
    object_id: str
    audit_hash: str

    def __init__(self, object_id: str, audit_hash: str, *, _seal: object = None) -> None:
        if _seal is not _GATE_SEAL:
            raise AccessDenied("only the data-access gate can grant access to stored contents")
        object.__setattr__(self, "object_id", object_id)
        object.__setattr__(self, "audit_hash", audit_hash)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("an AccessGrant cannot be changed")

    def __repr__(self) -> str:
        return f"AccessGrant({self.object_id!r}, audit_hash={self.audit_hash!r})"


class ObjectWriter:
    """Streams one new object into the vault; a context manager from :meth:`Vault.writer`.

    On a clean exit the object is committed (file durable, then row inserted); on an exception,
    or if committing fails, neither file nor row is left behind.
    """

    def __init__(self, vault: Vault, kind: str, object_id: str) -> None:
        self.object_id = object_id
        self.kind = kind
        self._vault = vault
        self._fd = -1
        self._tmp_path: Path | None = None
        self._linked: Path | None = None
        self._data_key = b""
        self._encrypter: StreamEncrypter | None = None
        self._size = 0
        self._state = "new"

    def __enter__(self) -> ObjectWriter:
        if self._state != "new":
            raise ValueError("an ObjectWriter can be used once")
        self._state = "open"
        try:
            self._create_locked_temp()
            self._data_key = generate_data_key()
            self._encrypter = StreamEncrypter(
                self._data_key, object_binding(self.object_id, self.kind), self._vault.segment_size
            )
            self._write_all(self._encrypter.header)
        except BaseException:
            self._abort()
            raise
        return self

    def _create_locked_temp(self) -> None:
        """Create this writer's temp file and lock it, so that no sweep takes it for a crash's.

        The lock is held until the writer is done: a sweep (another ``Vault`` opening, in this
        process or another) sees it and leaves the live file alone; the kernel drops it if this
        process dies. A file is created before it can be locked, so a sweep may find it unlocked
        in between and delete it; then the lock was taken on a file with no name left
        (``st_nlink == 0``), and the writer starts again with a new one.
        """
        for _ in range(_TEMP_ATTEMPTS):
            name = f"vault-{self.object_id}-{random_bytes(6).hex()}.part"
            self._tmp_path = self._vault.tmp_dir / name
            self._fd = os.open(
                self._tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
            )
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            if os.fstat(self._fd).st_nlink > 0:
                return
            os.close(self._fd)  # swept before it was locked: try again under a new name
            self._fd, self._tmp_path = -1, None
        raise OSError(f"could not create a temp file in {self._vault.tmp_dir}: each was removed "
                      "by a concurrent sweep before it could be locked")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt and append ``data``; only whole segments reach the disk."""
        if self._state != "open" or self._encrypter is None:
            raise ValueError("write() outside an open writer")
        for segment in self._encrypter.update(data):
            self._write_all(segment)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "open":
            return
        if exc_type is not None:
            self._abort()
            return
        try:
            self._commit()
        except BaseException:
            self._abort()
            raise

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._size += written

    def _commit(self) -> None:
        assert self._encrypter is not None and self._tmp_path is not None
        self._write_all(self._encrypter.finalize())
        os.fsync(self._fd)
        final = self._vault.object_path(self.object_id)
        ensure_private_dir(final.parent)
        try:
            os.link(self._tmp_path, final)
        except FileExistsError:
            raise Conflict(f"object {self.object_id} already exists") from None
        self._linked = final
        fsync_dir(final.parent)
        # Only now, with the ciphertext durable under its final name, does the object exist.
        self._vault._register(self.object_id, self.kind, self._data_key, self._size)
        self._linked = None
        self._state = "committed"
        self._release()

    def _abort(self) -> None:
        self._state = "aborted"
        if self._linked is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._linked)
            fsync_dir(self._linked.parent)
            self._linked = None
        self._release()

    def _release(self) -> None:
        # Unlink the temp name before closing: the lock must outlive every name of the file.
        if self._tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp_path)
            self._tmp_path = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._data_key = b""


class Vault:
    """Encrypted object store over ``<home>/objects`` and the ``objects`` table."""

    def __init__(
        self,
        home: Path,
        conn: sqlite3.Connection,
        keyring: Keyring,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        *,
        clock: Clock = _utc_now,
    ) -> None:
        if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
            raise ConfigurationError(
                f"segment_size must be between {MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE} bytes, "
                f"got {segment_size}"
            )
        self.home = Path(home)
        self.objects_dir = self.home / OBJECTS_DIR
        self.tmp_dir = self.home / TMP_DIR
        self.segment_size = segment_size
        self._conn = conn
        self._keyring = keyring
        self._clock = clock
        ensure_private_dir(self.objects_dir)
        ensure_private_dir(self.tmp_dir)
        # Freed pages (a shredded wrapped key, say) are zeroed rather than left in the file.
        conn.execute("PRAGMA secure_delete=ON")
        #: Files this opening's sweep removed (the home's start-up audit event counts them).
        self.swept = self.sweep()

    # -- paths and lookups -------------------------------------------------------------------

    def object_path(self, object_id: str) -> Path:
        """``objects/<2 hex>/<object_id>``; the 2 hex spread objects over 256 directories."""
        _check_object_id(object_id)
        fanout = hashlib.sha256(object_id.encode("ascii")).hexdigest()[:2]
        return self.objects_dir / fanout / object_id

    def exists(self, object_id: str) -> bool:
        """True if the object is committed and not shredded."""
        row = self._conn.execute(
            "SELECT wrapped_key IS NOT NULL AS live FROM objects WHERE object_id = ?",
            (object_id,),
        ).fetchone()
        return bool(row and row["live"])

    # -- writing -----------------------------------------------------------------------------

    def writer(self, kind: str, object_id: str | None = None) -> ObjectWriter:
        """A context manager that streams one new object in: ``with vault.writer(k) as w``."""
        if not _KIND_RE.fullmatch(kind):
            raise InvalidInput(f"invalid object kind {kind!r}: use lowercase letters, digits, _.-")
        object_id = new_object_id() if object_id is None else _check_object_id(object_id)
        if self._conn.execute(
            "SELECT 1 FROM objects WHERE object_id = ?", (object_id,)
        ).fetchone():
            raise Conflict(f"object {object_id} already exists")
        return ObjectWriter(self, kind, object_id)

    def put(self, kind: str, chunks: Iterable[bytes]) -> str:
        """Store an object from an iterable of chunks; return its id."""
        with self.writer(kind) as writer:
            for chunk in chunks:
                writer.write(chunk)
        return writer.object_id

    def _register(self, object_id: str, kind: str, data_key: bytes, size: int) -> None:
        # The key version is chosen inside the write transaction: rotation destroys old master
        # keys while holding the same lock, so no row can be wrapped under a destroyed key.
        try:
            with db.transaction(self._conn):
                version = self._keyring.current_version
                wrapped = wrap_key(
                    self._keyring.key(version), data_key, data_key_binding(object_id, version)
                )
                self._conn.execute(
                    "INSERT INTO objects (object_id, kind, key_version, wrapped_key, size,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (object_id, kind, version, wrapped, size, self._now()),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"object {object_id} already exists") from None

    # -- reading -----------------------------------------------------------------------------

    def open(self, object_id: str, grant: AccessGrant) -> Iterator[bytes]:
        """Stream the plaintext of an object; the grant must be for this object.

        Checks happen now, before the first chunk is asked for. Every chunk yielded has been
        authenticated, but the object is whole only when the iterator ends without error.
        """
        _check_grant(object_id, grant)
        kind, data_key = self._unwrap_data_key(object_id)
        try:
            handle = self.object_path(object_id).open("rb")
        except FileNotFoundError:
            raise IntegrityError(
                f"object {object_id} is damaged: its ciphertext file is missing"
            ) from None
        return self._stream_plaintext(object_id, handle, data_key, object_binding(object_id, kind))

    def read_bytes(self, object_id: str, grant: AccessGrant) -> bytes:
        """The whole plaintext, returned only if all of it authenticated."""
        return b"".join(self.open(object_id, grant))

    def _unwrap_data_key(self, object_id: str) -> tuple[str, bytes]:
        for attempt in range(2):
            row = self._conn.execute(
                "SELECT kind, key_version, wrapped_key FROM objects WHERE object_id = ?",
                (object_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"object {object_id} does not exist")
            if row["wrapped_key"] is None:
                raise NotFound(f"object {object_id} was shredded; it can never be read again")
            try:
                master = self._keyring.key(row["key_version"])
            except ConfigurationError:
                # A rotation may have re-wrapped this row and destroyed its old master key between
                # the SELECT and the load: read the row once more before giving up.
                if attempt == 0:
                    continue
                raise
            binding = data_key_binding(object_id, row["key_version"])
            try:
                return row["kind"], unwrap_key(master, bytes(row["wrapped_key"]), binding)
            except IntegrityError:
                raise _integrity_failure(object_id) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _stream_plaintext(
        object_id: str, handle: BinaryIO, data_key: bytes, aad: bytes
    ) -> Iterator[bytes]:
        with handle:
            chunks = iter(lambda: handle.read(READ_CHUNK_BYTES), b"")
            try:
                for piece in decrypt_stream(data_key, chunks, aad):
                    if piece:
                        yield piece
            except IntegrityError:
                raise _integrity_failure(object_id) from None

    # -- shredding, rotation, recovery ---------------------------------------------------------

    def shred(self, object_id: str) -> None:
        """Crypto-shred an object: destroy its wrapped data key, then delete its ciphertext.

        The order is the point: once the NULL is committed, no copy of the ciphertext anywhere
        (backup, snapshot, a file copied earlier) can be decrypted. Shredding again is a no-op that
        finishes a shred interrupted before the file was deleted.
        """
        _check_object_id(object_id)
        with db.transaction(self._conn):
            row = self._conn.execute(
                "SELECT wrapped_key FROM objects WHERE object_id = ?", (object_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"object {object_id} does not exist")
            if row["wrapped_key"] is not None:
                self._conn.execute(
                    "UPDATE objects SET wrapped_key = NULL, shredded_at = ? WHERE object_id = ?",
                    (self._now(), object_id),
                )
        # Move the zeroed page out of the WAL into the main file now, rather than at some later
        # checkpoint (best effort: a reader holding an old snapshot can delay it).
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _remove_file(self.object_path(object_id))

    def rotate_master_key(self) -> dict[str, int]:
        """New master-key version; re-wrap every data key under it; destroy the old versions.

        Reads keep working throughout: each row switches (version, wrapped key) atomically, and
        old master keys are destroyed only once no live row needs them. No data is re-encrypted.
        Returns ``{"key_version", "rewrapped", "destroyed"}``.
        """
        new_version = self._keyring.rotate()
        rewrapped = destroyed = 0
        while True:
            with db.transaction(self._conn):
                count = self._rewrap_rows(new_version, _ROTATE_BATCH)
                if count == 0:
                    # We hold the write lock and nothing live is left under an old key; writers
                    # pick their version under this same lock, so none can race in. No row was
                    # written in this transaction, so its commit cannot undo anything.
                    destroyed = self._destroy_master_keys_below(new_version)
            if count == 0:
                break
            rewrapped += count
        return {"key_version": new_version, "rewrapped": rewrapped, "destroyed": destroyed}

    def _rewrap_rows(self, new_version: int, limit: int) -> int:
        rows = self._conn.execute(
            "SELECT object_id, key_version, wrapped_key FROM objects"
            " WHERE wrapped_key IS NOT NULL AND key_version < ? LIMIT ?",
            (new_version, limit),
        ).fetchall()
        new_key = self._keyring.key(new_version)
        for row in rows:
            object_id, old_version = row["object_id"], row["key_version"]
            try:
                data_key = unwrap_key(
                    self._keyring.key(old_version),
                    bytes(row["wrapped_key"]),
                    data_key_binding(object_id, old_version),
                )
            except IntegrityError:
                raise _integrity_failure(object_id) from None
            wrapped = wrap_key(new_key, data_key, data_key_binding(object_id, new_version))
            self._conn.execute(
                "UPDATE objects SET key_version = ?, wrapped_key = ? WHERE object_id = ?",
                (new_version, wrapped, object_id),
            )
        return len(rows)

    def _destroy_master_keys_below(self, version: int) -> int:
        old = [v for v in self._keyring.versions() if v < version]
        for old_version in old:
            self._keyring.destroy(old_version)
        return len(old)

    def sweep(self) -> int:
        """Remove what crashed writers and shreds left behind; return the number of files removed.

        - a writer's temp file whose lock is free (its process is gone): deleted, and with it the
          object file it was linked to, unless that object's row was committed;
        - the ciphertext of a shredded object whose deletion was interrupted: deleted.
        """
        removed = 0
        with os.scandir(self.tmp_dir) as entries:
            leftovers = [(Path(e.path), _TMP_RE.fullmatch(e.name)) for e in entries]
        for path, match in leftovers:
            if match and self._sweep_temp(path, match.group(1)):
                removed += 1
        shredded = self._conn.execute(
            "SELECT object_id FROM objects WHERE wrapped_key IS NULL"
        ).fetchall()
        for row in shredded:
            if _remove_file(self.object_path(row["object_id"])):
                removed += 1
        return removed

    def _sweep_temp(self, tmp_path: Path, object_id: str) -> bool:
        try:
            fd = os.open(tmp_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # a live writer holds it
            # Checked after taking the lock: a writer commits its row before it lets go.
            committed = self._conn.execute(
                "SELECT 1 FROM objects WHERE object_id = ?", (object_id,)
            ).fetchone()
            if not committed:
                _remove_file(self.object_path(object_id))
            _remove_file(tmp_path)
            return True
        finally:
            os.close(fd)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")


def _check_object_id(object_id: str) -> str:
    if not isinstance(object_id, str) or not _OBJECT_ID_RE.fullmatch(object_id):
        raise InvalidInput(f"invalid object id {object_id!r}")
    return object_id


def _check_grant(object_id: str, grant: AccessGrant) -> None:
    if not isinstance(grant, AccessGrant) or getattr(grant, "object_id", None) != object_id:
        raise AccessDenied(
            f"reading object {object_id} needs a grant from the data-access gate for that object"
        )


def _remove_file(path: Path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True
