"""Appending to the audit log: many writers, one hash chain, every event durable before return.

Writers in several processes (the CLI, the API server, job workers) share the log. Each write
batch runs under an exclusive ``flock(2)`` on ``audit/.lock``:

1. read the chain head (seq, hash, Merkle compact range) -- from memory when the segment and
   checkpoint files still have the inode and size this process last saw, else from their tails;
2. repair what a crash left (below), recording each repair as an event in the same batch;
3. seal the events (seq, time, prev_hash, hash), write them to the current segment in one
   ``write``, and ``fsync`` it: from here on the events are durable;
4. append a checkpoint signed with the audit key over the new head and Merkle root;
5. release the lock, then ``fsync`` the checkpoint file (off the writers' critical path: a
   checkpoint lost to a power cut is recovered by step 2 of the next batch).

Group commit: ``append_many`` writes a whole batch with one ``fsync``; with ``group_commit=True``
concurrent ``append`` calls in one process queue their events and one of them, the leader, writes
everything queued as one batch, then wakes the others.

Failure is never silent. If a batch cannot be written (disk full, read-only or missing directory,
I/O error) the segment is cut back to where it was and :class:`AuditUnavailable` is raised: the
caller refuses the access (no audit, no data). A crash can still leave a torn tail (part of a
line): the next writer moves those bytes to ``audit/torn/`` and records an
``audit.torn_tail_recovered`` event naming the file, line and the bytes' SHA-256 before it writes
anything else, so the truncation is itself in the signed chain. Events written but never covered
by a checkpoint (a crash between steps 3 and 4) are taken in with an
``audit.unsigned_events_adopted`` event. A log whose tail does not match its last signed
checkpoint (events removed or changed) is not extended at all: every append raises
:class:`AuditUnavailable` until ``appliance audit verify`` has been run and a person has decided.
"""

from __future__ import annotations

import _thread
import contextlib
import fcntl
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from appliance.audit.canonical import encode_trusted, parse_strict
from appliance.audit.checkpoint import (
    export_audit_public_key,
    key_id,
    sign_checkpoint,
    verify_checkpoint,
)
from appliance.audit.event import (
    GENESIS_HASH,
    AuditEvent,
    AuditRecord,
    format_time,
    seal_line,
    utc_now,
)
from appliance.audit.files import (
    CHECKPOINTS_FILE,
    FILE_MODE,
    LOCK_FILE,
    TORN_DIR,
    FileState,
    count_lines,
    ensure_dir,
    file_state,
    fsync_dir,
    list_segments,
    open_append,
    read_tail,
    segment_name,
    write_all,
)
from appliance.audit.merkle import CompactRange
from appliance.audit.query import TextFilter, query_events
from appliance.crypto.signing import SigningKey
from appliance.errors import ApplianceError, AuditUnavailable, IntegrityError, NotFound

Clock = Callable[[], datetime]

DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH = 4096
SYSTEM_ACTOR = "appliance"
SYSTEM_ROLE = "system"
_QUARANTINE = re.compile(r"([a-z0-9-]+\.jsonl)\.line(\d+)\.offset(\d+)\.pending")


@dataclass
class _Torn:
    """Bytes after the last newline of a file: a write a crash cut short."""

    file: str
    offset: int
    data: bytes


@dataclass
class _Head:
    """Where the chain ends, and the file states it was read from."""

    segment: int
    segment_size: int
    segment_state: FileState
    checkpoints_state: FileState
    tree_size: int
    head_hash: str
    compact: CompactRange
    signed_size: int
    torn: list[_Torn] = field(default_factory=list)


class _Pending:
    """One queued ``append``: its record, then its event or error once the batch is settled.

    ``_wake`` is a bare lock, taken when the entry is made: ``wait`` blocks until some other
    thread calls ``wake``. A ``threading.Event`` does the same through a ``Condition`` (two more
    locks and a waiter list per call), which with 40 threads cost more CPU than sealing the
    event. Every entry is woken at most twice, each time after a ``wait`` has consumed the wake
    before (see ``AuditLog._append_grouped``), so ``release`` never hits an unlocked lock.
    """

    __slots__ = ("record", "done", "event", "error", "_wake")

    def __init__(self, record: AuditRecord) -> None:
        self.record = record
        self.done = False
        self.event: AuditEvent | None = None
        self.error: ApplianceError | None = None
        self._wake = _thread.allocate_lock()
        self._wake.acquire()

    def wait(self) -> None:
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()


class AuditLog:
    """The append-only, hash-chained, signed audit log under ``audit_dir``.

    ``signing_key`` may be None for a read-only handle (queries, checkpoints); appending through it
    raises :class:`AuditUnavailable`. Nothing touches the disk until the first append.
    """

    def __init__(
        self,
        audit_dir: str | Path,
        signing_key: SigningKey | None,
        clock: Clock = utc_now,
        *,
        group_commit: bool = False,
        segment_max_bytes: int = DEFAULT_SEGMENT_BYTES,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if segment_max_bytes < 1 or max_batch < 1:
            raise ValueError("segment_max_bytes and max_batch must be positive")
        self.audit_dir = Path(audit_dir)
        self.group_commit = group_commit
        self._key = signing_key
        self._key_id = key_id(signing_key) if signing_key is not None else ""
        self._clock = clock
        self._segment_max = segment_max_bytes
        self._max_batch = max_batch
        self._lock_path = str(self.audit_dir / LOCK_FILE)
        self._checkpoints_path = self.audit_dir / CHECKPOINTS_FILE
        self._segment_paths: dict[int, Path] = {}
        self._dir_ready = False
        self._io_lock = threading.Lock()
        self._head: _Head | None = None
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._leader_busy = False

    # -- appending ---------------------------------------------------------------------------

    def append(self, **fields: Any) -> AuditEvent:
        """Record one event; it is on disk (fsync) before this returns."""
        record = AuditRecord.from_fields(fields)
        if self.group_commit:
            return self._append_grouped(record)
        return self._commit([record])[-1]

    def append_many(self, events: Iterable[Mapping[str, Any] | AuditRecord]) -> list[AuditEvent]:
        """Record several events as one batch: one write, one fsync, one checkpoint."""
        records = [e if isinstance(e, AuditRecord) else AuditRecord.from_fields(e) for e in events]
        if not records:
            return []
        sealed: list[AuditEvent] = []
        for start in range(0, len(records), self._max_batch):
            batch = records[start:start + self._max_batch]
            sealed.extend(self._commit(batch)[-len(batch):])
        return sealed

    def _append_grouped(self, record: AuditRecord) -> AuditEvent:
        """Queue ``record``; if no thread is writing, write everything queued as one batch.

        Each waiting thread is woken exactly once: when its event is written (or failed), or
        when the finishing leader hands it the lead for whatever queued in the meantime.
        """
        mine = _Pending(record)
        with self._queue_lock:
            self._queue.append(mine)
            lead = not self._leader_busy
            self._leader_busy = True
        if not lead:
            mine.wait()
            if mine.done:
                return _result(mine)
        sync_error: AuditUnavailable | None = None
        while True:  # this thread leads until its own event is written
            with self._queue_lock:
                batch = self._queue[:self._max_batch]
                del self._queue[:len(batch)]
            sync = self._write_grouped(batch)
            with self._queue_lock:
                successor = self._queue[0] if self._queue and mine.done else None
                if not self._queue:
                    self._leader_busy = False
            if successor is not None:
                successor.wake()  # it is not done: it leads the next batch
            try:
                self._sync_checkpoint(sync)
            except AuditUnavailable as exc:  # raised once the lead is handed on, never before
                sync_error = exc
            if mine.done:
                if sync_error is not None:
                    raise sync_error
                return _result(mine)

    def _write_grouped(self, batch: list[_Pending]) -> int | None:
        """Write ``batch``, settle every entry and wake the others; the checkpoint fd to sync."""
        sync: int | None = None
        try:
            events, sync = self._write_batch([p.record for p in batch])
            for pending, event in zip(batch, events[-len(batch):], strict=True):
                pending.event = event
        except Exception as exc:  # every queued caller learns that the batch failed
            error = exc if isinstance(exc, ApplianceError) else AuditUnavailable(
                f"audit log write failed: {exc}")
            for pending in batch:
                pending.error = error
        finally:
            for pending in batch:
                if pending.event is None and pending.error is None:  # interrupted
                    pending.error = AuditUnavailable("audit log write was interrupted")
                pending.done = True
                pending.wake()
        return sync

    def _commit(self, records: list[AuditRecord]) -> list[AuditEvent]:
        events, sync = self._write_batch(records)
        self._sync_checkpoint(sync)
        return events

    def _write_batch(self, records: list[AuditRecord]) -> tuple[list[AuditEvent], int]:
        """Write one batch under both locks; returns the events and the checkpoint fd to sync."""
        key = self._key
        if key is None:
            raise AuditUnavailable("this audit log handle is read-only (no signing key)")
        with self._io_lock:
            try:
                if not self._dir_ready:
                    ensure_dir(self.audit_dir)
                    self._dir_ready = True
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                  FILE_MODE)
            except OSError as exc:
                self._dir_ready = False
                raise _unavailable(self.audit_dir, exc) from exc
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                return self._write_locked(key, records)
            except OSError as exc:
                self._head = None
                raise _unavailable(self.audit_dir, exc) from exc
            except IntegrityError as exc:
                self._head = None
                raise AuditUnavailable(
                    f"the audit log is damaged and will not be extended: {exc.message}; "
                    "run 'appliance audit verify'"
                ) from exc
            finally:
                os.close(lock_fd)  # releases the flock

    def _write_locked(
        self, key: SigningKey, records: list[AuditRecord]
    ) -> tuple[list[AuditEvent], int]:
        head, cached = self._current_head(key)
        # A head from memory means nobody touched the files since this process's last batch,
        # which ended with no torn tail and no pending quarantine (a torn tail or a quarantine
        # changes a file's size first): there is nothing to repair, so skip looking.
        pending_torn = [] if cached else self._quarantine_torn(head)
        preamble = self._recovery_records(head, pending_torn)
        now = format_time(self._clock())
        events: list[AuditEvent] = []
        lines: list[bytes] = []
        seq, prev = head.tree_size, head.head_hash
        for record in preamble + records:
            seq += 1
            event, line = seal_line(record, seq=seq, time=now, prev_hash=prev)
            prev = event.hash
            events.append(event)
            lines.append(line)

        segment, known = head.segment, head.segment_state if cached else None
        if head.segment_size >= self._segment_max:
            segment, known = segment + 1, None
        segment_path = self._segment_path(segment)
        self._head = None  # until this batch is fully on disk, trust nothing cached
        segment_state = _append_durably(segment_path, b"".join(lines), known)
        for path in pending_torn:  # the recovery events are durable: the quarantine is final
            path.rename(path.with_suffix(".torn"))
        if pending_torn:
            fsync_dir(self.audit_dir / TORN_DIR)

        compact = head.compact.copy()
        for event in events:
            compact.append(bytes.fromhex(event.hash))
        checkpoint = sign_checkpoint(
            key, tree_size=seq, root_hash=compact.root_hash().hex(), head_hash=prev, time=now,
            signer=self._key_id,
        )
        stored = {**checkpoint, "compact_range": compact.peaks_hex()}
        line = encode_trusted(stored).encode("ascii") + b"\n"  # ints, hex and ASCII only
        cp_fd, checkpoints_state = _append_checkpoint(
            self._checkpoints_path, line, head.checkpoints_state if cached else None)
        self._head = _Head(segment, segment_state[1], segment_state, checkpoints_state, seq, prev,
                           compact, seq)
        return events, cp_fd

    def _sync_checkpoint(self, fd: int | None) -> None:
        if fd is None:
            return
        try:
            os.fsync(fd)
        except OSError as exc:
            self._head = None
            raise _unavailable(self.audit_dir, exc) from exc
        finally:
            os.close(fd)

    # -- the chain head ----------------------------------------------------------------------

    def _current_head(self, key: SigningKey) -> tuple[_Head, bool]:
        """The chain head, and whether it came from memory (the files are as this process left
        them; the caller holds the flock, so they stay so)."""
        head = self._head
        if head is not None and self._unchanged(head):
            return head, True
        self._head = None
        return self._load_head(key), False

    def _unchanged(self, head: _Head) -> bool:
        """True if no other writer touched the files since this process last wrote them."""
        return (
            file_state(self._segment_path(head.segment)) == head.segment_state
            and file_state(self._checkpoints_path) == head.checkpoints_state
            and file_state(self._segment_path(head.segment + 1)) is None
        )

    def _segment_path(self, index: int) -> Path:
        path = self._segment_paths.get(index)
        if path is None:
            path = self._segment_paths[index] = self.audit_dir / segment_name(index)
        return path

    def _load_head(self, key: SigningKey) -> _Head:
        """Read the head from the files' tails (and, after a crash, the unsigned events)."""
        segments = list_segments(self.audit_dir)
        index = segments[-1][0] if segments else 1
        path = self.audit_dir / segment_name(index)
        segment_state = file_state(path)
        tail = read_tail(path)
        torn = [_Torn(path.name, tail.torn_offset, tail.torn)] if tail.torn else []
        last_line = tail.last_line
        for _, earlier in reversed(segments[:-1]):
            if last_line is not None:
                break
            earlier_tail = read_tail(earlier)
            if earlier_tail.torn:
                raise IntegrityError(f"{earlier.name} ends in a torn line but is not the last")
            last_line = earlier_tail.last_line
        tree_size, head_hash = 0, GENESIS_HASH
        if last_line is not None:
            last = AuditEvent.from_line(last_line)
            tree_size, head_hash = last.seq, last.hash

        cp_path = self.audit_dir / CHECKPOINTS_FILE
        checkpoints_state = file_state(cp_path)
        cp_tail = read_tail(cp_path)
        if cp_tail.torn:
            torn.append(_Torn(cp_path.name, cp_tail.torn_offset, cp_tail.torn))
        compact, signed_size, signed_head = CompactRange(), 0, GENESIS_HASH
        if cp_tail.last_line is not None:
            compact, signed_size, signed_head = self._last_checkpoint(
                key, cp_tail.last_line, segments)
        if signed_size > tree_size:
            raise IntegrityError(
                f"the last checkpoint covers {signed_size} events, but the log ends at seq "
                f"{tree_size}: events were removed"
            )
        if signed_size == tree_size and signed_head != head_hash:
            raise IntegrityError(
                f"head_hash at seq {tree_size} expected {signed_head} (signed), got {head_hash}"
            )
        if signed_size < tree_size:
            for event in _events_after(segments, signed_size, signed_head):
                compact.append(bytes.fromhex(event.hash))
        return _Head(index, tail.size - len(tail.torn), segment_state, checkpoints_state,
                     tree_size, head_hash, compact, signed_size, torn)

    def _last_checkpoint(
        self, key: SigningKey, line: bytes, segments: list[tuple[int, Path]]
    ) -> tuple[CompactRange, int, str]:
        try:
            data = parse_strict(line.decode("utf-8"))
        except ValueError:
            raise IntegrityError(f"{CHECKPOINTS_FILE}: last line is not JSON") from None
        checkpoint = verify_checkpoint(data, key.public_key(),
                                       where=f"{CHECKPOINTS_FILE} (last line)",
                                       expected_key_id=self._key_id)
        try:
            compact = CompactRange.from_hex(checkpoint.tree_size, data["compact_range"])
        except (IntegrityError, KeyError, TypeError):  # not ours to trust: rebuild from events
            compact = CompactRange()
            for event in _events_after(segments, 0, GENESIS_HASH):
                if compact.tree_size == checkpoint.tree_size:
                    break
                compact.append(bytes.fromhex(event.hash))
        if compact.root_hash().hex() != checkpoint.root_hash:
            raise IntegrityError(
                f"{CHECKPOINTS_FILE}: root_hash expected {checkpoint.root_hash} (signed), "
                f"got {compact.root_hash().hex()}"
            )
        return compact, checkpoint.tree_size, checkpoint.head_hash

    # -- crash repair ------------------------------------------------------------------------

    def _quarantine_torn(self, head: _Head) -> list[Path]:
        """Move torn tails to ``torn/*.pending`` and cut them off; return every pending file."""
        torn_dir = self.audit_dir / TORN_DIR
        for torn in head.torn:
            path = self.audit_dir / torn.file
            line = count_lines(path, torn.offset) + 1
            if not torn_dir.is_dir():
                torn_dir.mkdir(mode=0o700)
                fsync_dir(self.audit_dir)
            keep = torn_dir / f"{torn.file}.line{line}.offset{torn.offset}.pending"
            fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
            try:
                write_all(fd, torn.data)
                os.fsync(fd)
            finally:
                os.close(fd)
            fsync_dir(torn_dir)
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            try:
                os.ftruncate(fd, torn.offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        head.torn = []
        if not torn_dir.is_dir():
            return []
        return sorted(p for p in torn_dir.iterdir() if p.suffix == ".pending")

    def _recovery_records(self, head: _Head, pending: list[Path]) -> list[AuditRecord]:
        records = []
        for path in pending:
            file, line, offset = _parse_quarantine_name(path.name)
            data = path.read_bytes()
            records.append(_system_record(
                "audit.torn_tail_recovered", f"audit:{file}",
                f"{file}:{line}: a write was cut short (crash or I/O error); its {len(data)} "
                f"bytes were moved to {TORN_DIR}/{path.stem}.torn",
                {"file": file, "line": line, "offset": offset, "torn_bytes": len(data),
                 "torn_sha256": hashlib.sha256(data).hexdigest()},
            ))
        if head.signed_size < head.tree_size:
            first, last = head.signed_size + 1, head.tree_size
            records.append(_system_record(
                "audit.unsigned_events_adopted", "audit:log",
                f"events {first}-{last} were written but no signed checkpoint covered them "
                "(a crash between writing and signing); this batch's checkpoint covers them",
                {"first_seq": first, "last_seq": last},
            ))
        return records

    # -- reading -----------------------------------------------------------------------------

    def latest_checkpoint(self) -> dict[str, Any]:
        """The newest signed checkpoint, for an auditor to keep outside the appliance."""
        tail = read_tail(self.audit_dir / CHECKPOINTS_FILE)
        if tail.last_line is None:
            raise NotFound("the audit log has no checkpoint yet (nothing was recorded)")
        try:
            data = parse_strict(tail.last_line.decode("utf-8"))
        except ValueError:
            raise IntegrityError(f"{CHECKPOINTS_FILE}: last line is not JSON") from None
        if self._key is not None:
            verify_checkpoint(data, self._key.public_key(), where=f"{CHECKPOINTS_FILE} (last)",
                              expected_key_id=self._key_id)
        return {k: v for k, v in data.items() if k != "compact_range"}

    def public_key_pem(self) -> str:
        """The audit public key (PEM) that verifies this log's checkpoints."""
        if self._key is None:
            raise NotFound("this audit log handle has no signing key")
        return export_audit_public_key(self._key)

    def query(
        self,
        *,
        actor: TextFilter | None = None,
        action: TextFilter | None = None,
        resource: TextFilter | None = None,
        decision: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        up_to_seq: int | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[AuditEvent]:
        """Events matching every given filter, oldest first unless ``newest_first`` (see
        :func:`query_events`)."""
        return query_events(self.audit_dir, actor=actor, action=action, resource=resource,
                            decision=decision, since=since, until=until, up_to_seq=up_to_seq,
                            newest_first=newest_first, limit=limit, offset=offset)


def _result(pending: _Pending) -> AuditEvent:
    if pending.error is not None:
        error = pending.error
        raise type(error)(error.message, reasons=error.reasons) from error
    assert pending.event is not None
    return pending.event


def _unavailable(audit_dir: Path, exc: OSError) -> AuditUnavailable:
    reason = exc.strerror or str(exc)
    where = exc.filename or audit_dir
    return AuditUnavailable(f"cannot write the audit log ({where}: {reason}); access refused")


def _append_durably(path: Path, data: bytes, known: FileState = None) -> tuple[int, int]:
    """Append ``data`` and fsync; on failure cut the file back so no partial line remains.

    ``known`` is the file's (inode, size) when the caller has just seen it under the flock:
    then the size after the write is known too, and the two ``fstat`` calls are skipped.
    """
    fd, created = open_append(path)
    try:
        ino, before = _inode_and_size(fd) if known is None else known
        try:
            write_all(fd, data)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
                os.fsync(fd)
            raise
        state = _inode_and_size(fd) if known is None else (ino, before + len(data))
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)
    return state


def _append_checkpoint(path: Path, line: bytes, known: FileState = None) -> tuple[int, FileState]:
    """Append a checkpoint line without fsync; the caller syncs the returned fd.

    ``known`` as for :func:`_append_durably`.
    """
    fd, created = open_append(path)
    try:
        ino, before = _inode_and_size(fd) if known is None else known
        try:
            write_all(fd, line)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, before)
            raise
        state = _inode_and_size(fd) if known is None else (ino, before + len(line))
    except OSError:
        os.close(fd)
        raise
    if created:
        fsync_dir(path.parent)
    return fd, state


def _inode_and_size(fd: int) -> tuple[int, int]:
    stat = os.fstat(fd)
    return stat.st_ino, stat.st_size


def _events_after(
    segments: list[tuple[int, Path]], after: int, after_hash: str
) -> list[AuditEvent]:
    """Every complete event with seq > ``after``, fully validated and linked to ``after_hash``."""
    found: list[AuditEvent] = []
    for _, path in reversed(segments):
        lines = path.read_bytes().split(b"\n")[:-1]
        events = [AuditEvent.from_line(line) for line in lines]
        found[:0] = [e for e in events if e.seq > after]
        if events and events[0].seq <= after + 1:
            break
    prev_seq, prev_hash = after, after_hash
    for event in found:
        if event.seq != prev_seq + 1 or event.prev_hash != prev_hash:
            raise IntegrityError(
                f"event {event.seq}: expected seq {prev_seq + 1} after {prev_hash}, "
                f"got seq {event.seq} after {event.prev_hash}"
            )
        prev_seq, prev_hash = event.seq, event.hash
    return found


def _system_record(
    action: str, resource: str, reason: str, details: dict[str, Any]
) -> AuditRecord:
    return AuditRecord(actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action=action, resource=resource,
                       decision="allow", purpose="recovery", reasons=(reason,), details=details)


def _parse_quarantine_name(name: str) -> tuple[str, int, int]:
    """``segment-000001.jsonl.line57.offset1234.pending`` -> (file, line, offset)."""
    match = _QUARANTINE.fullmatch(name)
    if match is None:
        raise IntegrityError(f"{TORN_DIR}/{name}: not a quarantine file this log wrote")
    return match.group(1), int(match.group(2)), int(match.group(3))
