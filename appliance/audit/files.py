"""The audit directory's layout and the few file operations the log needs.

    <home>/audit/segment-000001.jsonl   events, one per line, oldest first; a segment is closed
    <home>/audit/segment-000002.jsonl   once it reaches the size limit and the next one begins
    <home>/audit/checkpoints.jsonl      one signed checkpoint per write batch
    <home>/audit/torn/                  bytes of torn tails moved out of a segment by a recovery
    <home>/audit/.lock                  flock(2) target that serialises writers across processes

Files are created 0600 and the directory 0700. Only complete lines count: a file that does not end
in a newline has a torn tail (a write cut short by a crash).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import IntegrityError

CHECKPOINTS_FILE = "checkpoints.jsonl"
LOCK_FILE = ".lock"
TORN_DIR = "torn"
FILE_MODE = 0o600
DIR_MODE = 0o700
SEGMENT_PATTERN = re.compile(r"segment-(\d{6,})\.jsonl")
_BLOCK = 64 * 1024

#: (inode, size) of a file, or None if it does not exist: how a writer notices another's write.
FileState = tuple[int, int] | None


def segment_name(index: int) -> str:
    return f"segment-{index:06d}.jsonl"


def list_segments(audit_dir: Path) -> list[tuple[int, Path]]:
    """The segment files, in order; :class:`IntegrityError` if one is missing from the run."""
    try:
        names = os.listdir(audit_dir)
    except FileNotFoundError:
        return []
    found = sorted(
        (int(match.group(1)), audit_dir / name)
        for name in names
        if (match := SEGMENT_PATTERN.fullmatch(name))
    )
    for expected, (index, path) in enumerate(found, start=1):
        if index != expected:
            raise IntegrityError(
                f"segment files: expected {segment_name(expected)}, got {path.name} "
                "(a segment was removed or renamed)"
            )
    return found


def file_state(path: Path) -> FileState:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size


@dataclass(frozen=True)
class Tail:
    """The end of a file: its last complete line and any torn bytes after it."""

    size: int
    last_line: bytes | None
    torn: bytes

    @property
    def torn_offset(self) -> int:
        return self.size - len(self.torn)


def read_tail(path: Path) -> Tail:
    """Read backwards from the end just far enough to find the last complete line."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return Tail(0, None, b"")
    try:
        size = os.fstat(fd).st_size
        buffer = b""
        position = size
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            buffer = os.pread(fd, step, position) + buffer
            last = buffer.rfind(b"\n")
            if last >= 0 and buffer.rfind(b"\n", 0, last) >= 0:
                break
        last = buffer.rfind(b"\n")
        if last < 0:
            return Tail(size, None, buffer)
        start = buffer.rfind(b"\n", 0, last) + 1
        return Tail(size, buffer[start:last], buffer[last + 1:])
    finally:
        os.close(fd)


def count_lines(path: Path, upto: int) -> int:
    """Newlines in the first ``upto`` bytes: the 0-based line number of the byte at ``upto``."""
    count = 0
    with open(path, "rb") as handle:
        remaining = upto
        while remaining > 0:
            block = handle.read(min(_BLOCK * 16, remaining))
            if not block:
                break
            count += block.count(b"\n")
            remaining -= len(block)
    return count


def write_all(fd: int, data: bytes) -> None:
    """write(2) until every byte is out (a write may be partial near a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_append(path: Path) -> tuple[int, bool]:
    """Open ``path`` for appending (0600, never through a symlink); True if it was created."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, flags), False
    except FileNotFoundError:
        pass
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE), True
    except FileExistsError:
        return os.open(path, flags), False


def ensure_dir(path: Path) -> None:
    """Create the audit directory (0700) and make its entry durable."""
    if path.is_dir():
        return
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fsync_dir(path.parent)
