"""Two-person model export: request (operator), approve (compliance, never the requester),
download (the requester), and offline verification of the signed bundle.

The bundle is built once, at request time, and stored encrypted; every later step names its
SHA-256 in the audit log, so what compliance approved is byte for byte what is downloaded. It is
an uncompressed POSIX tar, written deterministically, holding the model in one of three layouts
(the manifest's ``contents``, which the bundle's model card names too):

- ``weights`` (classification models, and every bundle before format 3): ``model.safetensors``,
  the weights (adapters and head, or all weights) with their spec;
- ``adapter`` (a causal LM trained with LoRA): ``adapter/``, a standard PEFT adapter directory
  (``adapter_config.json``, ``adapter_model.safetensors``) with the base's tokenizer files;
- ``merged`` (a causal LM, the adapter folded into its base): ``model/``, a standard Hugging Face
  directory (``config.json``, ``model.safetensors``, ``generation_config.json``, tokenizer
  files) that transformers, vLLM or TGI load directly (:mod:`.hf_export` builds both in memory);

and beside it ``model_card.json`` (provenance, hyperparameters, metrics, the memorization scan
and what the bundle holds), ``manifest.json`` (the SHA-256 and size of each file, directories
included in the names, who asked and when, who approved and when) and ``manifest.sig`` (an
Ed25519 signature, RFC 8032, over ``manifest.json``). The tar has no directory entries: a name
like ``model/config.json`` makes its directory when extracted.

The bundle built at request time (the one compliance reviews, its SHA-256 in the request and
approve events) lists no approvals. Approving it seals the released bundle: the same files, and
the manifest again with ``approvals`` (who, when) and ``reviewed_bundle_sha256`` (the reviewed
bundle's digest, so an auditor holding the released bundle finds the approve event), signed
anew. The released bundle's digest is what the download checks and names.

A generative model is exported only with its memorization scan (:mod:`.memorization`, in its
card's metrics): the request and approve events carry its summary, and approving an export the
scan flagged needs a reason.

:func:`verify_bundle` checks the signature, every file's digest, that no file is missing or
added, the layout its ``contents`` names, and then rebuilds the canonical tar from the verified
files and compares it with the input, so a change to any byte, headers and padding included,
fails with :class:`IntegrityError`. Bundles of earlier formats still verify: format 2
(``appliance-export/2``: the ``weights`` layout, approvals in the manifest) as it always did, and
format 1 (before approvals were recorded), whose report says the approver was not recorded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
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
from appliance.redaction.reasons import reason_details, redact_reason
from appliance.training.models import ModelInfo, load_model_info, read_model_weights
from appliance.training.registry import open_base_model

if TYPE_CHECKING:
    from appliance.context import Context

BUNDLE_FORMAT = "appliance-export/3"
#: Format 2 (the ``weights`` layout, no ``contents``): verified as before; one requested before
#: an upgrade can still be approved (its seal keeps format 2).
PREVIOUS_FORMATS = ("appliance-export/2",)
#: Released before the manifest named its approvers; still verified, approver unknown.
LEGACY_FORMATS = ("appliance-export/1",)
BUNDLE_KIND = "export_bundle"
WEIGHTS, CARD, MANIFEST, SIGNATURE = (
    "model.safetensors",
    "model_card.json",
    "manifest.json",
    "manifest.sig",
)
CONTENT_FILES = (WEIGHTS, CARD)
#: What a bundle can hold, and the directory each layout's files are under (None: top level).
CONTENTS: dict[str, str | None] = {"weights": None, "adapter": "adapter", "merged": "model"}
#: A file name in the bundle: one optional directory of a layout, then a plain name.
_MEMBER = re.compile(r"^(?:(adapter|model)/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
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
    #: "weights", "adapter" or "merged" (see the module docstring).
    contents: str = "weights"
    #: The model card's memorization scan (generative models); None for the others.
    memorization: dict[str, Any] | None = None

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


def request_export(
    ctx: Context, principal: Principal, model_id: str, merged: bool = False
) -> ExportInfo:
    """Build, sign and store the bundle; the export then waits for compliance.

    ``merged`` (generative models) folds the adapter into the base, for a Hugging Face
    directory; without it a LoRA model's bundle holds the adapter alone. A generative model
    needs its memorization scan in its card, which the request carries to the approver.

    One ``model.export.request`` event: the gate's decision to decrypt the weights for this
    export (written before they are read, so it cannot name the bundle built from them), with
    the bundle's contents and the scan's summary. The bundle's SHA-256 is kept with the export
    and named by the approve, reject and download events, which the request's ``export_id``
    ties together.
    """
    model = load_model_info(ctx, model_id)
    contents = _contents(model, merged)
    scan = _memorization(model)
    base = open_base_model(ctx, model.base_model) if contents != "weights" else None
    export_id = new_export_id()
    details: dict[str, Any] = {"export_id": export_id, "contents": contents}
    if scan is not None:
        details |= memorization_summary(scan)
    weights = read_model_weights(
        ctx, principal, model_id, "model.export.request", model.resource(), "export", details
    )
    payload: bytes | dict[str, bytes] = weights
    if base is not None:
        from appliance.training import hf_export

        payload = (
            hf_export.merged_files(weights, base.path)
            if contents == "merged"
            else hf_export.adapter_files(weights, base.path, base.name)
        )
    del weights
    card = {**model.card, "export": _card_export(contents, model)}
    bundle = build_bundle(
        payload, card, export_id, principal.name, ctx.now(), _signing_key(ctx), contents=contents
    )
    del payload
    digest = hashlib.sha256(bundle).hexdigest()
    object_id = ctx.vault.put(BUNDLE_KIND, [bundle])
    now = ctx.now()
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO exports(export_id, model_id, state, requested_by, bundle_sha256,"
            " bundle_object_id, created_at, updated_at, contents, memorization)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (export_id, model_id, PENDING, principal.name, digest, object_id, now, now,
             contents, None if scan is None else json.dumps(scan, sort_keys=True)),
        )
    return get_export(ctx, export_id)


def memorization_summary(scan: dict[str, Any]) -> dict[str, Any]:
    """What the audit events say of a scan, as flat details (audit details are scalars; decimals
    as short strings): whether it flagged and on how many counts, the worst canary exposure in
    bits, the verbatim rates on training and held-out records (never text of a record)."""
    verbatim = scan.get("verbatim") or {}
    return {
        "memorization_flagged": bool(scan.get("flagged")),
        "memorization_reasons": len(scan.get("reasons") or []),
        "memorization_canaries": len(scan.get("canaries") or []),
        "memorization_max_exposure": _decimal(scan.get("max_exposure")),
        "memorization_verbatim_train": _decimal((verbatim.get("train") or {}).get("rate")),
        "memorization_verbatim_heldout": _decimal((verbatim.get("heldout") or {}).get("rate")),
    }


def _decimal(value: Any) -> str | None:
    return f"{value:.3f}" if isinstance(value, int | float) else None


def _generative(model: ModelInfo) -> bool:
    from appliance.training.tasks import get_task

    try:
        return get_task(model.task).model_kind == "causal"
    except InvalidInput:  # a task this release no longer knows: judge by its card
        return model.card.get("task") == "sft"


def _contents(model: ModelInfo, merged: bool) -> str:
    if not _generative(model):
        if merged:
            raise InvalidInput(
                f"model {model.model_id} is a '{model.task}' model: only generative models "
                "export merged; its bundle holds its weights"
            )
        return "weights"
    if model.method != "lora":
        return "merged"  # a full fine-tune is the whole model already
    return "merged" if merged else "adapter"


def _memorization(model: ModelInfo) -> dict[str, Any] | None:
    """The scan a generative model must carry to be exported (None for the others)."""
    if not _generative(model):
        return None
    scan = (model.card.get("metrics") or {}).get("memorization")
    if not isinstance(scan, dict) or not isinstance(scan.get("flagged"), bool):
        raise Conflict(
            f"model {model.model_id} has no memorization scan (it was trained by a version "
            "without one): a generative model cannot be exported unscanned; retrain it with "
            "a current version"
        )
    return scan


def _card_export(contents: str, model: ModelInfo) -> dict[str, Any]:
    """What the bundle's model card says of the bundle itself."""
    directory = CONTENTS[contents]
    described = {
        "weights": "the appliance's weights file (model.safetensors with its spec)",
        "adapter": "the LoRA adapter alone, a PEFT directory: "
        f"PeftModel.from_pretrained(<base {model.base_model}>, 'adapter')",
        "merged": "the whole model (adapter merged into the base), a Hugging Face directory: "
        "AutoModelForCausalLM.from_pretrained('model')",
    }[contents]
    return {
        "contents": contents,
        "directory": f"{directory}/" if directory else None,
        "description": described,
        "base_model": model.card.get("base_model"),
    }


def approve_export(
    ctx: Context, principal: Principal, export_id: str, reason: str = ""
) -> ExportInfo:
    """Compliance releases the bundle; the policy refuses the requester (separation of duties).

    The decision is taken, and audited, on the reviewed bundle's digest; the bundle is then sealed
    again with the approval in its manifest, and the reviewed one shredded (its files live on,
    byte for byte, in the released one).
    """
    export = get_export(ctx, export_id)
    flagged = bool(export.memorization and export.memorization.get("flagged"))
    if flagged and not reason.strip():
        reasons = "; ".join((export.memorization or {}).get("reasons") or []) or "flagged"
        raise InvalidInput(
            f"export {export_id} was flagged by the memorization scan ({reasons}): approving "
            "it needs a reason, kept with the decision"
        )
    reason = redact_reason(ctx.settings, reason)
    reviewed_object = _bundle_object(ctx, export_id)
    reviewed = read_object(
        ctx,
        principal,
        "model.export.approve",
        export.resource(),
        reviewed_object,
        "export",
        _decision_details(export, reason),
    )
    actual = hashlib.sha256(reviewed).hexdigest()
    if actual != export.bundle_sha256:
        raise IntegrityError(
            f"export {export_id}: bundle SHA-256 expected {export.bundle_sha256}, got {actual}"
        )
    now = ctx.now()
    released = seal_approval(reviewed, principal.name, now, _signing_key(ctx))
    object_id = ctx.vault.put(BUNDLE_KIND, [released])
    with transaction(ctx.conn):
        changed = ctx.conn.execute(
            "UPDATE exports SET state=?, approved_by=?, reason=?, updated_at=?, bundle_sha256=?,"
            " bundle_object_id=? WHERE export_id=? AND state=?",
            (APPROVED, principal.name, reason, now, hashlib.sha256(released).hexdigest(),
             object_id, export_id, PENDING),
        ).rowcount
    if not changed:
        ctx.vault.shred(object_id)
        raise Conflict(f"export {export_id} changed state meanwhile; try again")
    ctx.vault.shred(reviewed_object)
    return get_export(ctx, export_id)


def reject_export(
    ctx: Context, principal: Principal, export_id: str, reason: str = ""
) -> ExportInfo:
    export = get_export(ctx, export_id)
    reason = redact_reason(ctx.settings, reason)
    authorize(
        ctx,
        principal,
        "model.export.reject",
        export.resource(),
        "export",
        _decision_details(export, reason),
    )
    with transaction(ctx.conn):
        changed = ctx.conn.execute(
            "UPDATE exports SET state=?, approved_by=?, reason=?, updated_at=?"
            " WHERE export_id=? AND state=?",
            (REJECTED, principal.name, reason, ctx.now(), export_id, PENDING),
        ).rowcount
    if not changed:
        raise Conflict(f"export {export_id} changed state meanwhile; try again")
    return get_export(ctx, export_id)


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
        " created_at, updated_at, contents, memorization FROM exports WHERE export_id=?",
        (export_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no export {export_id}")
    data = dict(row)
    data["memorization"] = json.loads(data["memorization"]) if data["memorization"] else None
    return ExportInfo(**data)


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
    payload: bytes | dict[str, bytes],
    card: dict[str, Any],
    export_id: str,
    requested_by: str,
    created_at: str,
    key: SigningKey,
    *,
    contents: str = "weights",
) -> bytes:
    """The bundle compliance reviews: signed, no approvals yet (never released as it is).

    ``payload`` is the weights file (``weights``) or a layout's files by name (``adapter``,
    ``merged``), put under its directory."""
    if contents not in CONTENTS:
        raise ValueError(f"unknown bundle contents {contents!r}")
    directory = CONTENTS[contents]
    if directory is None:
        if not isinstance(payload, bytes):
            raise ValueError("a weights bundle holds one weights file")
        files = {WEIGHTS: payload}
    else:
        if not isinstance(payload, dict):
            raise ValueError(f"an {contents} bundle holds a directory of files")
        files = {f"{directory}/{name}": data for name, data in payload.items()}
    files[CARD] = json.dumps(card, indent=2, sort_keys=True).encode() + b"\n"
    for name in files:
        if not _MEMBER.fullmatch(name):
            raise ValueError(f"a bundle cannot hold a file named {name!r}")
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "contents": contents,
        "export_id": export_id,
        "model_id": card.get("model_id"),
        "requested_by": requested_by,
        "created_at": created_at,
        "approvals": [],
        "signing_key_sha256": hashlib.sha256(export_public_key(key)).hexdigest(),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in sorted(files.items())
        },
    }
    _check_layout("reviewed", manifest)
    return _signed(files, manifest, key)


def seal_approval(reviewed: bytes, approved_by: str, approved_at: str, key: SigningKey) -> bytes:
    """The released bundle: the reviewed one's files, its manifest with this approval added."""
    files = _untar(reviewed)
    manifest: dict[str, Any] = json.loads(files[MANIFEST])
    if manifest.get("format") not in (BUNDLE_FORMAT, *PREVIOUS_FORMATS):
        raise IntegrityError(
            f"expected a reviewed bundle of format {BUNDLE_FORMAT}, got {manifest.get('format')}"
        )
    manifest["approvals"] = [*manifest.get("approvals", []),
                             {"approved_by": approved_by, "approved_at": approved_at}]
    manifest["reviewed_bundle_sha256"] = hashlib.sha256(reviewed).hexdigest()
    content = {name: files[name] for name in manifest["files"]}
    return _signed(content, manifest, key)


def _signed(files: dict[str, bytes], manifest: dict[str, Any], key: SigningKey) -> bytes:
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    return _tar({**files, MANIFEST: manifest_bytes, SIGNATURE: sign(key, manifest_bytes)})


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
        if not isinstance(listed, dict) or not all(isinstance(e, dict) for e in listed.values()):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"bundle {source.name}: manifest is malformed") from None
    if manifest.get("format") not in (BUNDLE_FORMAT, *PREVIOUS_FORMATS, *LEGACY_FORMATS):
        raise IntegrityError(
            f"bundle {source.name}: expected format {BUNDLE_FORMAT}, got {manifest.get('format')}"
        )
    approvals = _approvals(source.name, manifest)
    contents = _check_layout(source.name, manifest)
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
    legacy = manifest["format"] in LEGACY_FORMATS
    return {
        "ok": True,
        "bundle": str(source),
        "format": manifest["format"],
        "contents": contents,
        "directory": CONTENTS[contents],
        "bundle_sha256": hashlib.sha256(data).hexdigest(),
        "export_id": manifest.get("export_id"),
        "model_id": manifest.get("model_id"),
        "requested_by": manifest.get("requested_by"),
        "created_at": manifest.get("created_at"),
        "approved_by": None if legacy else ", ".join(a["approved_by"] for a in approvals),
        "approved_at": None if legacy else approvals[-1]["approved_at"],
        "approvals": approvals,
        **({"note": f"format {manifest['format']} does not record the approver"}
           if legacy else {}),
        "reviewed_bundle_sha256": manifest.get("reviewed_bundle_sha256"),
        "signing_key_sha256": hashlib.sha256(export_public_key(public_key)).hexdigest(),
        "files": listed,
    }


def _check_layout(bundle: str, manifest: dict[str, Any]) -> str:
    """The manifest's contents, after checking its files are that layout's (earlier formats:
    always ``weights``)."""
    if manifest["format"] == BUNDLE_FORMAT:
        contents = manifest.get("contents")
    else:
        contents = "weights"
    if contents not in CONTENTS:
        raise IntegrityError(
            f"bundle {bundle}: expected contents {' or '.join(CONTENTS)}, got {contents!r}"
        )
    listed = sorted(manifest["files"])
    directory = CONTENTS[contents]
    if directory is None:
        expected = sorted(CONTENT_FILES)
        if listed != expected:
            raise IntegrityError(f"bundle {bundle}: expected files {expected}, got {listed}")
        return str(contents)
    from appliance.training.hf_export import REQUIRED

    outside = [n for n in listed if n != CARD and not n.startswith(f"{directory}/")]
    missing = [n for n in (CARD, *(f"{directory}/{f}" for f in REQUIRED[contents]))
               if n not in listed]
    if outside or missing:
        raise IntegrityError(
            f"bundle {bundle}: expected {CARD} and the {contents} files under {directory}/, "
            f"got {listed}"
        )
    return str(contents)


def _approvals(bundle: str, manifest: dict[str, Any]) -> list[dict[str, str]]:
    """The manifest's approvals; a current-format bundle without one was never released."""
    if manifest["format"] in LEGACY_FORMATS:
        return []
    approvals = manifest.get("approvals")
    if not isinstance(approvals, list) or not all(
        isinstance(a, dict) and isinstance(a.get("approved_by"), str) and a["approved_by"]
        and isinstance(a.get("approved_at"), str) for a in approvals
    ):
        raise IntegrityError(f"bundle {bundle}: manifest approvals are malformed")
    if not approvals:
        raise IntegrityError(
            f"bundle {bundle}: expected at least one approval, got none (the bundle was never "
            "approved for release)"
        )
    if not isinstance(manifest.get("reviewed_bundle_sha256"), str):
        raise IntegrityError(f"bundle {bundle}: expected the reviewed bundle's SHA-256, got none")
    return approvals


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
    """Regular files only, read into memory; links, directories, odd names (anything but a
    plain name, or one under a layout's directory) and duplicates fail."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                if not member.isfile() or not _MEMBER.fullmatch(member.name):
                    raise IntegrityError(f"bundle holds an unexpected entry {member.name!r}")
                if member.name in files:
                    raise IntegrityError(f"bundle holds {member.name!r} twice")
                handle = tar.extractfile(member)
                assert handle is not None
                files[member.name] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise IntegrityError(f"bundle is not a readable tar: {exc}") from None
    return files


def _decision_details(export: ExportInfo, kept_reason: str) -> dict[str, Any]:
    """What an approve or reject event names: the bundle, its contents, the memorization
    scan's summary and the (redacted) reason's digest."""
    details: dict[str, Any] = {
        "model_id": export.model_id,
        "bundle_sha256": export.bundle_sha256,
        "contents": export.contents,
        **reason_details(kept_reason),
    }
    if export.memorization is not None:
        details |= memorization_summary(export.memorization)
    return details


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
