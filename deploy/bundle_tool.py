#!/usr/bin/env python3
"""Manifest, lock and safe extraction for the appliance's offline bundle.

Standard library only: it runs on the air-gapped target before anything is installed, with the
system ``python3`` (3.11.4 or newer, for ``tarfile``'s extraction filters, PEP 706).

Subcommands (used by ``offline-bundle.sh`` and ``install-offline.sh``):

- ``manifest DIR``  writes ``DIR/MANIFEST.sha256``: one ``<sha256>  <relative path>`` line per
  regular file, sorted, in ``sha256sum`` format (so ``sha256sum -c`` can check it too).
- ``verify DIR``    checks ``DIR`` against its manifest: every listed file present with the listed
  digest, and nothing else in the tree (an extra wheel could be installed by ``--find-links``
  even though it was never listed). Symlinks, devices and other non-regular files are refused.
- ``lock DIR``      writes ``DIR/requirements.lock`` from the wheels in ``DIR/wheelhouse``: one
  ``name==version --hash=sha256:...`` line per wheel, for ``pip install --require-hashes``.
- ``extract TAR DEST`` unpacks with the ``data`` filter: no absolute paths, no ``..``, no links
  pointing outside, no device files, no setuid bits. ``DEST`` must not exist yet.

Every failure prints one line naming the file and exits 1; the caller stops.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import sys
import tarfile
from pathlib import Path

MANIFEST = "MANIFEST.sha256"
LOCK = "requirements.lock"
_CHUNK = 1 << 20
# A wheel file name: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427).
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


class BundleError(Exception):
    """The bundle is malformed, incomplete or altered."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk_regular_files(root: Path) -> list[str]:
    """Relative POSIX paths of every file under root; anything but files and dirs is refused."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            mode = full.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise BundleError(f"{full.relative_to(root)}: not a regular file")
            found.append(full.relative_to(root).as_posix())
    return sorted(found)


def write_manifest(root: Path) -> Path:
    lines = [
        f"{sha256_file(root / rel)}  {rel}\n"
        for rel in _walk_regular_files(root)
        if rel != MANIFEST
    ]
    target = root / MANIFEST
    target.write_text("".join(lines), "utf-8")
    return target


def _read_manifest(root: Path) -> dict[str, str]:
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{MANIFEST} missing: not an appliance bundle")
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or not rel:
            raise BundleError(f"{MANIFEST} line {number}: malformed")
        if rel.startswith("/") or ".." in Path(rel).parts or rel in entries:
            raise BundleError(f"{MANIFEST} line {number}: bad or repeated path {rel!r}")
        entries[rel] = digest
    if not entries:
        raise BundleError(f"{MANIFEST} is empty")
    return entries


def verify_tree(root: Path) -> int:
    """Check root against its manifest; return the number of files checked."""
    expected = _read_manifest(root)
    present = set(_walk_regular_files(root)) - {MANIFEST}
    missing = sorted(set(expected) - present)
    extra = sorted(present - set(expected))
    if missing:
        raise BundleError(f"{missing[0]}: listed in {MANIFEST} but missing")
    if extra:
        raise BundleError(f"{extra[0]}: present but not listed in {MANIFEST}")
    for rel, digest in expected.items():
        actual = sha256_file(root / rel)
        if actual != digest:
            raise BundleError(f"{rel}: sha256 mismatch, expected {digest}, got {actual}")
    return len(expected)


def write_lock(root: Path) -> Path:
    """requirements.lock pinning every wheel in root/wheelhouse by name, version and hash."""
    lines = []
    for wheel in sorted((root / "wheelhouse").glob("*.whl")):
        match = _WHEEL_NAME.match(wheel.name)
        if match is None:
            raise BundleError(f"{wheel.name}: not a wheel file name (PEP 427)")
        name = match["name"].replace("_", "-").lower()
        lines.append(f"{name}=={match['version']} --hash=sha256:{sha256_file(wheel)}\n")
    if not lines:
        raise BundleError("wheelhouse is empty")
    target = root / LOCK
    target.write_text("".join(lines), "utf-8")
    return target


def extract(archive: Path, dest: Path) -> None:
    if not hasattr(tarfile, "data_filter"):
        raise BundleError(
            f"python {sys.version.split()[0]} lacks tarfile extraction filters; use 3.11.4 or newer"
        )
    if dest.exists():
        raise BundleError(f"{dest}: already exists; extract into a fresh directory")
    dest.mkdir(parents=True, mode=0o700)
    try:
        with tarfile.open(archive, mode="r:") as tar:
            # The data filter refuses absolute paths, "..", links leaving dest and device files
            # (PEP 706), so a crafted tarball cannot write outside dest before it is verified.
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{archive}: cannot extract: {exc}") from exc


def main(argv: list[str]) -> int:
    usage = "usage: bundle_tool.py {manifest DIR | verify DIR | lock DIR | extract TAR DEST}"
    if len(argv) < 2:
        print(usage, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    try:
        if command == "manifest" and len(args) == 1:
            print(write_manifest(Path(args[0])))
        elif command == "verify" and len(args) == 1:
            print(f"manifest OK: {verify_tree(Path(args[0]))} files")
        elif command == "lock" and len(args) == 1:
            print(write_lock(Path(args[0])))
        elif command == "extract" and len(args) == 2:
            extract(Path(args[0]), Path(args[1]))
        else:
            print(usage, file=sys.stderr)
            return 2
    except BundleError as exc:
        print(f"bundle_tool: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
