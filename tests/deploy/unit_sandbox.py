"""Run a command under the seccomp part of a systemd unit's sandbox, without systemd.

This machine (a container) has no systemd as PID 1, so the units cannot be started here. The
settings that could break the appliance at run time are the ones enforced by seccomp, and those
can be reproduced exactly: this module reads them from the unit file, builds the same kind of
classic-BPF filter systemd builds (systemd's src/shared/seccomp-util.c) and execs the command
under it.

Reproduced, with the errno systemd uses:
- ``SystemCallFilter=`` allow list and ``~`` deny lists, groups expanded by
  ``systemd-analyze syscall-filter`` (so the groups are the installed systemd's), unlisted calls
  fail with ``SystemCallErrorNumber=``;
- ``MemoryDenyWriteExecute=yes``: mmap with PROT_WRITE|PROT_EXEC, mprotect/pkey_mprotect adding
  PROT_EXEC, shmat with SHM_EXEC fail with EPERM;
- ``RestrictAddressFamilies=``: socket() with another family fails with EAFNOSUPPORT;
- ``SystemCallArchitectures=native`` and ``NoNewPrivileges=yes``.
Not reproduced (no seccomp part, or needs systemd): file-system and namespace settings, IP
address lists, capabilities, users.

Usage: python unit_sandbox.py UNIT_FILE -- COMMAND [ARGS...]
x86_64 only; syscall numbers come from the kernel headers (<asm/unistd_64.h>).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
AUDIT_ARCH_X86_64 = 0xC000003E
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000
# classic BPF opcodes
LD_ABS_W, JEQ_K, AND_K, RET_K = 0x20, 0x15, 0x54, 0x06
# offsets in struct seccomp_data
OFF_NR, OFF_ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # low 32 bits of args[index] on little-endian


def unsupported_reason() -> str | None:
    """Why the sandbox cannot run here, or None."""
    if os.uname().machine != "x86_64":
        return "unit_sandbox builds x86_64 filters only"
    if not UNISTD.is_file():
        return f"{UNISTD} missing (kernel headers: apt-get install linux-libc-dev)"
    try:
        subprocess.run(["systemd-analyze", "--version"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "systemd-analyze not installed (expands the @groups)"
    return None


def parse_unit(path: Path) -> dict[str, list[str]]:
    """Directive -> values, in order, from the [Service] section (comments and blanks skipped)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text("utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def syscall_numbers() -> dict[str, int]:
    pattern = re.compile(r"^#define __NR_(\w+)\s+(\d+)", re.MULTILINE)
    return {name: int(nr) for name, nr in pattern.findall(UNISTD.read_text())}


def expand_groups(names: Iterable[str]) -> set[str]:
    """Syscall names in the given groups (@foo) and names, as the installed systemd defines them."""
    out: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True
        ).stdout
        members = [
            line.strip()
            for line in listing.splitlines()[1:]
            if line.strip() and not line.strip().startswith("#")
        ]
        out |= expand_groups(members)
    return out


def allowed_syscalls(values: list[str]) -> set[str]:
    """Fold SystemCallFilter= lines the way systemd does: allow lists add, ~lists subtract."""
    allowed: set[str] = set()
    for value in values:
        deny = value.startswith("~")
        names = set(expand_groups(value.lstrip("~").split()))
        allowed = allowed - names if deny else allowed | names
    return allowed


def _errno(value: str) -> int:
    return int(value) if value.isdigit() else int(getattr(errno, value))


def build_filter(settings: dict[str, list[str]]) -> list[tuple[int, int, int, int]]:
    """The BPF program, as (code, jt, jf, k) tuples."""
    numbers = syscall_numbers()
    prog: list[tuple[int, int, int, int]] = []

    def emit(code: int, k: int, jt: int = 0, jf: int = 0) -> None:
        prog.append((code, jt, jf, k))

    native_only = settings.get("SystemCallArchitectures", [""])[-1] == "native"
    emit(LD_ABS_W, OFF_ARCH)
    emit(JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0)
    emit(RET_K, SECCOMP_RET_KILL_PROCESS if native_only else SECCOMP_RET_ALLOW)

    mdwe = settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1", "on")
    checks: list[tuple[str, int, int, int]] = []  # (syscall, arg index, mask, errno)
    if mdwe:
        checks += [
            ("mmap", 2, PROT_WRITE | PROT_EXEC, errno.EPERM),
            ("mprotect", 2, PROT_EXEC, errno.EPERM),
            ("pkey_mprotect", 2, PROT_EXEC, errno.EPERM),
            ("shmat", 2, SHM_EXEC, errno.EPERM),
        ]
    families = settings.get("RestrictAddressFamilies", [])
    if families:
        allowed_families = {getattr(socket, f) for f in families[-1].split()}
        checks.append(("socket", 0, -1, errno.EAFNOSUPPORT))
    for name, arg, mask, err in checks:
        # nr == name ? check the argument : skip this block (5 or 3+N instructions)
        emit(LD_ABS_W, OFF_NR)
        if mask == -1:  # socket(): allowed families, anything else -> err
            block = len(allowed_families) + 2
            emit(JEQ_K, numbers[name], jt=0, jf=block)
            emit(LD_ABS_W, _arg(arg))
            for i, family in enumerate(sorted(allowed_families)):
                emit(JEQ_K, family, jt=len(allowed_families) - i, jf=0)
            emit(RET_K, SECCOMP_RET_ERRNO | err)
        else:
            emit(JEQ_K, numbers[name], jt=0, jf=4)
            emit(LD_ABS_W, _arg(arg))
            emit(AND_K, mask)
            emit(JEQ_K, mask, jt=0, jf=1)
            emit(RET_K, SECCOMP_RET_ERRNO | err)

    filters = settings.get("SystemCallFilter", [])
    emit(LD_ABS_W, OFF_NR)
    if not filters:
        emit(RET_K, SECCOMP_RET_ALLOW)
        return prog
    error = _errno(settings.get("SystemCallErrorNumber", ["EPERM"])[-1])
    for name in sorted(allowed_syscalls(filters)):
        if name in numbers:  # groups list other architectures' calls too
            emit(JEQ_K, numbers[name], jt=0, jf=1)
            emit(RET_K, SECCOMP_RET_ALLOW)
    emit(RET_K, SECCOMP_RET_ERRNO | error)
    return prog


def install(prog: list[tuple[int, int, int, int]]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    raw = b"".join(struct.pack("HBBI", code, jt, jf, k) for code, jt, jf, k in prog)
    buffer = ctypes.create_string_buffer(raw)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buffer, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: unit_sandbox.py UNIT_FILE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    reason = unsupported_reason()
    if reason:
        print(f"unit_sandbox: {reason}", file=sys.stderr)
        return 3
    install(build_filter(parse_unit(Path(argv[1]))))
    os.execvp(argv[3], argv[3:])  # noqa: S606 (the sandboxed command, as given)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv))
