"""Durable, private file operations: the POSIX sequence that survives a crash.

A file that must never be seen half-written is written under a temporary name, ``fsync``ed, given
its final name by one atomic directory operation, and then its directory is ``fsync``ed so the new
name itself is durable (POSIX rename(2)/link(2); see also the ext4 and XFS notes on
``fsync`` of the parent directory). Files are created 0600 and directories 0700 whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from appliance.crypto._primitives import random_bytes

FILE_MODE = 0o600
DIR_MODE = 0o700


def fsync_dir(path: Path) -> None:
    """Make the directory entries of ``path`` durable (a rename is not, until this)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> bool:
    """Create ``path`` (0700) if missing; True if it was created (its parent then needs fsync)."""
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return False
    fsync_dir(path.parent)
    return True


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, atomically and durably; never replace an existing file.

    The bytes go to a temporary name first and reach ``path`` by link(2), which fails if ``path``
    exists: a key file is either absent or complete, and an existing key is never overwritten.
    """
    tmp = path.with_name(f".{path.name}.{random_bytes(6).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(path.parent)


def destroy_file(path: Path) -> bool:
    """Overwrite ``path`` with random bytes, fsync, unlink, fsync its directory.

    The overwrite is best effort: copy-on-write filesystems, SSD wear levelling and backups can
    keep the old blocks. What makes destroyed key material unrecoverable is that nothing else holds
    it; this only shortens the window. Returns False if the file was already gone.
    """
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        os.write(fd, random_bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.unlink(path)
    fsync_dir(path.parent)
    return True
