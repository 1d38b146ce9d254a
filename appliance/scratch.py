"""Scratch entries in the home's ``tmp/``: locked while in use, swept when their process is gone.

A process that needs a scratch file or directory (ingest's duplicate digests, the trainer's
output directory, an export bundle being streamed) takes one with :func:`make_scratch`, which
names it ``<prefix>-<16 hex>[suffix]`` and holds an exclusive ``flock`` on it until
:meth:`ScratchEntry.remove`. The kernel drops the lock when the process dies, even by
``kill -9``, so :func:`sweep_scratch` (run whenever a process opens the home) tells a crash's
leftover from a live process's entry by trying the lock: it removes only entries it could lock,
and never one a concurrent ingest or job is still using, and only after its caller has audited
their names. This is the vault writer's scheme
(``appliance/crypto/vault.py``) for entries that are not vault objects.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

#: The prefixes this release creates; anything else in ``tmp/`` is left alone by the sweep.
PREFIXES = ("dedupe", "trainer", "export", "verify")
# ``[A-Za-z0-9_]`` also covers the random part of ``tempfile.mkdtemp`` names, which earlier
# releases used for ``trainer-*`` (unlocked: the sweep can always take them).
_NAME_RE = re.compile(rf"(?P<prefix>{'|'.join(PREFIXES)})-[A-Za-z0-9_]{{6,32}}(\.db)?")
#: Tries at an entry that a concurrent sweep did not remove before it was locked.
_ATTEMPTS = 8


class ScratchEntry:
    """One locked scratch file or directory; :meth:`remove` deletes it and drops the lock."""

    def __init__(self, path: Path, fd: int, directory: bool) -> None:
        self.path = path
        self.directory = directory
        self._fd = fd

    def remove(self) -> None:
        """Delete the entry (idempotent). The lock is released last, so no sweep races us."""
        if self._fd < 0:
            return
        try:
            if self.directory:
                shutil.rmtree(self.path, ignore_errors=True)
            else:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = -1

    def release(self) -> None:
        """Drop the lock and keep the entry (a sweep that could not audit it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ScratchEntry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()


def make_scratch(
    tmp_dir: Path, prefix: str, *, directory: bool = True, suffix: str = ""
) -> ScratchEntry:
    """Create and lock a new scratch entry in ``tmp_dir`` (0700 directory or empty 0600 file).

    An entry exists before it can be locked, so a sweep may take it in between and remove it;
    then the lock is held on something no longer at that path, and we start again under a new
    name (the same check as the vault writer's ``st_nlink``).
    """
    if prefix not in PREFIXES or suffix not in ("", ".db"):
        raise ValueError(f"unknown scratch entry {prefix!r}{suffix!r}")
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for _ in range(_ATTEMPTS):
        path = tmp_dir / f"{prefix}-{secrets.token_hex(8)}{suffix}"
        if directory:
            path.mkdir(mode=0o700)
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _still_there(path, fd):
            return ScratchEntry(path, fd, directory)
        os.close(fd)
    raise OSError(f"could not create a scratch entry in {tmp_dir}: each was removed by a "
                  "concurrent sweep before it could be locked")


def sweep_scratch(
    tmp_dir: Path, before_removing: Callable[[list[str]], None] | None = None
) -> list[str]:
    """Remove every scratch entry whose lock is free (its process is gone); return the names.

    Only names this module makes are considered; a live process's entries stay, locked. The
    leftovers are locked first and ``before_removing`` sees their names (to audit them) before
    anything is removed: if it raises, nothing is removed.
    """
    try:
        with os.scandir(tmp_dir) as entries:
            names = sorted(e.name for e in entries if _NAME_RE.fullmatch(e.name))
    except FileNotFoundError:
        names = []
    held = [entry for entry in (_claim(tmp_dir / name) for name in names) if entry is not None]
    try:
        if before_removing is not None:
            before_removing([entry.path.name for entry in held])
    except BaseException:
        for entry in held:
            entry.release()
        raise
    for entry in held:
        entry.remove()
    return [entry.path.name for entry in held]


def scratch_kind(name: str) -> str:
    """The prefix of a swept name (``dedupe``, ``trainer``, ...), for counts in the audit."""
    match = _NAME_RE.fullmatch(name)
    return match.group("prefix") if match else "other"


def _claim(path: Path) -> ScratchEntry | None:
    """A leftover entry, locked by us now; None if a live process holds it or it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:  # gone meanwhile, or a symlink (never followed: we only delete our own)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None  # a live process holds it
    if not _still_there(path, fd):
        os.close(fd)
        return None  # removed by another sweep between our scandir and open
    return ScratchEntry(path, fd, path.is_dir())


def _still_there(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the inode ``fd`` has open."""
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)
