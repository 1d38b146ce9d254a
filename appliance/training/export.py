"""Two-person model export: request (operator), approve (compliance, never the requester),
download (the requester), and offline verification of the signed bundle.

The bundle is built once, at request time, and stored encrypted; every later step names its
SHA-256 in the audit log, so what compliance approved is byte for byte what is downloaded. It is
an uncompressed POSIX tar, written deterministically, holding:

- ``model.safetensors``: the weights (adapters and head, or all weights) with their spec;
- ``model_card.json``: provenance, hyperparameters and metrics;
- ``manifest.json``: the SHA-256 and size of each file above, and who asked and when;
- ``manifest.sig``: an Ed25519 signature (RFC 8032) over ``manifest.json``.

:func:`verify_bundle` checks the signature, every file's digest, that no file is missing or
added, and then rebuilds the canonical tar from the verified files and compares it with the input,
so a change to any byte, headers and padding included, fails with :class:`IntegrityError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.crypto import (
    SigningKey,
    VerifyKey,
    export_public_key,
    load_signing_key,
    sign,
    verify_signature,
)
from appliance.db import transaction
from appliance.errors import Conflict, IntegrityError, InvalidInput, NotFound
from appliance.gate import Principal, authorize, read_object
from appliance.training.models import load_model_info, read_model_weights

if TYPE_CHECKING:
    from appliance.context import Context

BUNDLE_FORMAT = "appliance-export/1"
BUNDLE_KIND = "export_bundle"
WEIGHTS, CARD, MANIFEST, SIGNATURE = (
    "model.safetensors",
    "model_card.json",
    "manifest.json",
    "manifest.sig",
)
CONTENT_FILES = (WEIGHTS, CARD)
#: The bundle's fixed timestamp: the tar must not depend on when it was written.
_MTIME = 0
MAX_BUNDLE_BYTES = 64 * 1024**3
PENDING, APPROVED, REJECTED = "PENDING_REVIEW", "APPROVED", "REJECTED"
SIGNING_KEY_FILE = ("keys", "audit-signing.key")


@dataclass(frozen=True)
class ExportInfo:
    export_id: str
    model_id: str
    state: str
    requested_by: str
    approved_by: str | None
    reason: str
    bundle_sha256: str | None
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resource(self) -> dict[str, Any]:
        return {
            "type": "export",
            "id": self.export_id,
            "state": self.state,
            "requested_by": self.requested_by,
        }


def new_export_id() -> str:
    return "exp_" + secrets.token_hex(6)


def request_export(ctx: Context, principal: Principal, model_id: str) -> ExportInfo:
    """Build, sign and store the bundle; the export then waits for compliance."""
    model = load_model_info(ctx, model_id)
    export_id = new_export_id()
    weights = read_model_weights(
        ctx,
        principal,
        model_id,
        "model.export.request",
        model.resource(),
        "export",
        {"export_id": export_id, "step": "build_bundle"},
    )
    bundle = build_bundle(
        weights, model.card, export_id, principal.name, ctx.now(), _signing_key(ctx)
    )
    digest = hashlib.sha256(bundle).hexdigest()
    authorize(
        ctx,
        principal,
        "model.export.request",
        model.resource(),
        "export",
        {"export_id": export_id, "model_id": model_id, "bundle_sha256": digest},
    )
    object_id = ctx.vault.put(BUNDLE_KIND, [bundle])
    now = ctx.now()
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO exports(export_id, model_id, state, requested_by, bundle_sha256,"
            " bundle_object_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
            (export_id, model_id, PENDING, principal.name, digest, object_id, now, now),
        )
    return get_export(ctx, export_id)


def approve_export(
    ctx: Context, principal: Principal, export_id: str, reason: str = ""
) -> ExportInfo:
    """Compliance releases the bundle; the policy refuses the requester (separation of duties)."""
    return _decide(ctx, principal, export_id, "approve", APPROVED, reason)


def reject_export(
    ctx: Context, principal: Principal, export_id: str, reason: str = ""
) -> ExportInfo:
    return _decide(ctx, principal, export_id, "reject", REJECTED, reason)


def download_export(
    ctx: Context, principal: Principal, export_id: str, out_path: str | Path
) -> ExportInfo:
    """Write the approved bundle to ``out_path`` (requester only, after approval)."""
    export = get_export(ctx, export_id)
    target = Path(out_path)
    if target.exists():
        raise Conflict(f"{target} already exists; choose another path")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent} is not a directory")
    object_id = _bundle_object(ctx, export_id)
    bundle = read_object(
        ctx,
        principal,
        "model.export.download",
        export.resource(),
        object_id,
        "export",
        {"model_id": export.model_id, "bundle_sha256": export.bundle_sha256},
    )
    actual = hashlib.sha256(bundle).hexdigest()
    if actual != export.bundle_sha256:
        raise IntegrityError(
            f"export {export_id}: bundle SHA-256 expected {export.bundle_sha256}, got {actual}"
        )
    _write_new(target, bundle)
    return export


def get_export(ctx: Context, export_id: str) -> ExportInfo:
    row = ctx.conn.execute(
        "SELECT export_id, model_id, state, requested_by, approved_by, reason, bundle_sha256,"
        " created_at, updated_at FROM exports WHERE export_id=?",
        (export_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no export {export_id}")
    return ExportInfo(**dict(row))


def show_export(ctx: Context, principal: Principal, export_id: str) -> ExportInfo:
    export = get_export(ctx, export_id)
    authorize(ctx, principal, "model.read", export.resource(), "metadata")
    return export


def list_exports(ctx: Context, principal: Principal) -> list[ExportInfo]:
    authorize(ctx, principal, "model.read", {"type": "export", "id": "*"}, "metadata")
    rows = ctx.conn.execute("SELECT export_id FROM exports ORDER BY created_at, export_id")
    return [get_export(ctx, r["export_id"]) for r in rows.fetchall()]


# -- the bundle ----------------------------------------------------------------------------------


def build_bundle(
    weights: bytes,
    card: dict[str, Any],
    export_id: str,
    requested_by: str,
    created_at: str,
    key: SigningKey,
) -> bytes:
    files = {WEIGHTS: weights, CARD: json.dumps(card, indent=2, sort_keys=True).encode() + b"\n"}
    manifest = {
        "format": BUNDLE_FORMAT,
        "export_id": export_id,
        "model_id": card.get("model_id"),
        "requested_by": requested_by,
        "created_at": created_at,
        "signing_key_sha256": hashlib.sha256(export_public_key(key)).hexdigest(),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    files[MANIFEST] = manifest_bytes
    files[SIGNATURE] = sign(key, manifest_bytes)
    return _tar(files)


def verify_bundle(path: str | Path, public_key: VerifyKey) -> dict[str, Any]:
    """Check a bundle offline; return a report, or raise :class:`IntegrityError` naming the
    first failed check ("expected X, got Y")."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {source}: {exc.strerror}") from None
    files = _untar(data)
    for name in (MANIFEST, SIGNATURE):
        if name not in files:
            raise IntegrityError(f"bundle {source.name}: expected a {name}, got none")
    verify_signature(public_key, files[SIGNATURE], files[MANIFEST])
    try:
        manifest = json.loads(files[MANIFEST])
        listed: dict[str, dict[str, Any]] = manifest["files"]
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"bundle {source.name}: manifest is malformed") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise IntegrityError(
            f"bundle {source.name}: expected format {BUNDLE_FORMAT}, got {manifest.get('format')}"
        )
    present = sorted(set(files) - {MANIFEST, SIGNATURE})
    if present != sorted(listed):
        raise IntegrityError(
            f"bundle {source.name}: expected files {sorted(listed)}, got {present}"
        )
    for name, entry in sorted(listed.items()):
        actual = hashlib.sha256(files[name]).hexdigest()
        if actual != entry.get("sha256"):
            raise IntegrityError(
                f"bundle {source.name}: {name} SHA-256 expected {entry.get('sha256')}, got {actual}"
            )
    canonical = _tar(files)
    if canonical != data:  # same files, other bytes: the container itself was altered
        raise IntegrityError(
            f"bundle {source.name}: container SHA-256 expected "
            f"{hashlib.sha256(canonical).hexdigest()}, got {hashlib.sha256(data).hexdigest()}"
        )
    return {
        "ok": True,
        "bundle": str(source),
        "bundle_sha256": hashlib.sha256(data).hexdigest(),
        "export_id": manifest.get("export_id"),
        "model_id": manifest.get("model_id"),
        "requested_by": manifest.get("requested_by"),
        "created_at": manifest.get("created_at"),
        "signing_key_sha256": hashlib.sha256(export_public_key(public_key)).hexdigest(),
        "files": listed,
    }


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), _MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


def _untar(data: bytes) -> dict[str, bytes]:
    """Regular files only, read into memory; links, directories, odd names and duplicates fail."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise IntegrityError(f"bundle holds an unexpected entry {member.name!r}")
                if member.name in files:
                    raise IntegrityError(f"bundle holds {member.name!r} twice")
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise IntegrityError(f"bundle is not a readable tar: {exc}") from None
    return files


def _decide(
    ctx: Context, principal: Principal, export_id: str, verb: str, new_state: str, reason: str
) -> ExportInfo:
    export = get_export(ctx, export_id)
    authorize(
        ctx,
        principal,
        f"model.export.{verb}",
        export.resource(),
        "export",
        {
            "model_id": export.model_id,
            "bundle_sha256": export.bundle_sha256,
            "reason_given": bool(reason),
        },
    )
    with transaction(ctx.conn):
        changed = ctx.conn.execute(
            "UPDATE exports SET state=?, approved_by=?, reason=?, updated_at=?"
            " WHERE export_id=? AND state=?",
            (new_state, principal.name, reason, ctx.now(), export_id, PENDING),
        ).rowcount
    if not changed:
        raise Conflict(f"export {export_id} changed state meanwhile; try again")
    return get_export(ctx, export_id)


def _bundle_object(ctx: Context, export_id: str) -> str:
    row = ctx.conn.execute(
        "SELECT bundle_object_id FROM exports WHERE export_id=?", (export_id,)
    ).fetchone()
    if row is None or row[0] is None:
        raise NotFound(f"export {export_id} has no bundle")
    return str(row[0])


def _signing_key(ctx: Context) -> SigningKey:
    return load_signing_key(ctx.settings.path(*SIGNING_KEY_FILE))


def _write_new(target: Path, data: bytes) -> None:
    """Write, fsync and never overwrite (O_EXCL)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def public_key_file(ctx: Context) -> Path:
    """The key ``export verify`` checks against by default: the home's audit signing key."""
    return ctx.settings.path("keys", "audit-signing.pub")
