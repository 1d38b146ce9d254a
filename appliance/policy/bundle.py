"""Reading a policy directory: Rego modules, data documents, and the hash recorded with decisions.

The layout follows OPA's bundle format (https://www.openpolicyagent.org/docs/management-bundles),
so ``opa run --server policies/`` would see the same documents: each ``*.rego`` file is a module,
and each ``data.json`` is mounted at its directory's path (``appliance/data.json`` becomes
``data.appliance``). Rego unit tests (``*_test.rego``) are not part of the bundle an engine
loads, nor of its hash: they decide nothing.

The policy hash is SHA-256 over every loaded file, in sorted path order, each framed by its
path and length, so renaming, moving or editing any of them changes it.
"""

from __future__ import annotations

import hashlib
import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.errors import PolicyUnavailable
from appliance.policy.decision import loads_strict

DATA_FILE = "data.json"
TEST_SUFFIX = "_test.rego"
_HASH_DOMAIN = b"appliance-policy-bundle-v1\n"


@dataclass(frozen=True)
class PolicyModule:
    """One Rego source file; ``path`` is relative to the policy directory, with slashes."""

    path: str
    source: str


@dataclass(frozen=True)
class DataDocument:
    """One ``data.json``, and where it is mounted under ``data``."""

    path: str
    mount: tuple[str, ...]
    value: dict[str, Any]


@dataclass(frozen=True)
class PolicyBundle:
    """A policy directory, read once: engines build from this, never from the files again."""

    root: Path
    modules: tuple[PolicyModule, ...]
    documents: tuple[DataDocument, ...]
    policy_hash: str

    def data(self) -> dict[str, Any]:
        """All data documents merged into one ``data`` tree (conflicts were refused on read)."""
        return _merge(self.documents)


def default_policy_dir() -> Path | None:
    """The policies shipped with the appliance: beside the package in a source checkout or an
    editable install, else under ``<prefix>/share/appliance/policies`` for an installed wheel."""
    package_root = Path(__file__).resolve().parents[2]
    for candidate in (package_root / "policies",
                      Path(sys.prefix) / "share" / "appliance" / "policies"):
        if candidate.is_dir():
            return candidate
    return None


def read_policy_dir(root: Path) -> PolicyBundle:
    """Read and hash a policy directory; raise :class:`PolicyUnavailable` if it cannot be used."""
    root = Path(root)
    if not root.is_dir():
        raise PolicyUnavailable(f"policy directory {root} does not exist")
    files = _policy_files(root)
    if not any(path.suffix == ".rego" for path in files):
        raise PolicyUnavailable(f"policy directory {root} holds no Rego policy (*.rego)")
    digest = hashlib.sha256(_HASH_DOMAIN)
    modules: list[PolicyModule] = []
    documents: list[DataDocument] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        raw = _read_bytes(root, path)
        digest.update(b"%s\0%d\0" % (rel.encode("utf-8"), len(raw)))
        digest.update(raw)
        text = _decode(path, raw)
        if path.suffix == ".rego":
            modules.append(PolicyModule(rel, text))
        else:
            documents.append(DataDocument(rel, path.parent.relative_to(root).parts,
                                          _parse_data(path, text)))
    _merge(documents)  # refuse conflicting data documents now, not on first use
    return PolicyBundle(root, tuple(modules), tuple(documents), "sha256:" + digest.hexdigest())


def _policy_files(root: Path) -> list[Path]:
    """The files that make up the policy, sorted by relative path; hidden entries are skipped."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if (path.suffix == ".rego" and not path.name.endswith(TEST_SUFFIX)) \
                or path.name == DATA_FILE:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _read_bytes(root: Path, path: Path) -> bytes:
    # Whoever can write the policy decides who may read every dataset: refuse files (or the
    # directories above them) that every local user can change.
    for target in (path, *[p for p in path.parents if p == root or root in p.parents]):
        mode = target.stat().st_mode
        if mode & stat.S_IWOTH and not (target.is_dir() and mode & stat.S_ISVTX):
            raise PolicyUnavailable(
                f"{target} is writable by every user; fix it with: chmod o-w {target}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PolicyUnavailable(f"cannot read policy file {path}: {exc}") from exc


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyUnavailable(f"policy file {path} is not UTF-8: {exc}") from None


def _parse_data(path: Path, text: str) -> dict[str, Any]:
    try:
        value = loads_strict(text)
    except ValueError as exc:
        raise PolicyUnavailable(f"policy data {path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PolicyUnavailable(f"policy data {path} must hold a JSON object")
    return value


def _merge(documents: list[DataDocument] | tuple[DataDocument, ...]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for document in documents:
        node = merged
        for part in document.mount:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise PolicyUnavailable(f"policy data {document.path} conflicts with another "
                                        f"data document at {'.'.join(document.mount)}")
            node = child
        _merge_into(node, document.value, document.mount, document.path)
    return merged


def _merge_into(node: dict[str, Any], value: dict[str, Any], path: tuple[str, ...],
                source: str) -> None:
    """Merge objects key by key, as OPA does; any other overlap is a conflict."""
    for key, child in value.items():
        if isinstance(node.get(key), dict) and isinstance(child, dict):
            _merge_into(node[key], child, (*path, key), source)
        elif key in node:
            raise PolicyUnavailable(f"policy data {source} redefines "
                                    f"data.{'.'.join((*path, key))}")
        else:
            node[key] = json.loads(json.dumps(child))  # a private copy per merge
