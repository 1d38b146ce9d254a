"""deploy/bundle_tool.py: the manifest catches every change, extraction cannot escape."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


def _tree(root: Path) -> Path:
    (root / "wheelhouse").mkdir(parents=True)
    (root / "wheelhouse" / "demo_pkg-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (root / "bundle.json").write_text("{}")
    return root


def test_manifest_round_trip(tmp_path: Path, bundle_tool: ModuleType) -> None:
    root = _tree(tmp_path / "b")
    bundle_tool.write_manifest(root)
    assert bundle_tool.verify_tree(root) == 2
    lines = (root / "MANIFEST.sha256").read_text().splitlines()
    assert [line.split("  ")[1] for line in lines] == [
        "bundle.json", "wheelhouse/demo_pkg-1.0-py3-none-any.whl"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: (r / "bundle.json").write_text('{"x": 1}'), "bundle.json: sha256 mismatch"),
        (lambda r: (r / "bundle.json").unlink(), "bundle.json: listed in MANIFEST.sha256"),
        (lambda r: (r / "wheelhouse" / "evil-1.0-py3-none-any.whl").write_bytes(b"x"),
         "evil-1.0-py3-none-any.whl: present but not listed"),
        (lambda r: (r / "wheelhouse" / "link.whl").symlink_to("/etc/passwd"),
         "link.whl: not a regular file"),
        (lambda r: (r / "MANIFEST.sha256").write_text("not a manifest\n"), "line 1: malformed"),
        (lambda r: (r / "MANIFEST.sha256").write_text(""), "is empty"),
        (lambda r: (r / "MANIFEST.sha256").write_text(f"{'0' * 64}  ../etc/passwd\n"),
         "bad or repeated path"),
        (lambda r: (r / "MANIFEST.sha256").unlink(), "MANIFEST.sha256 missing"),
    ],
)
def test_verify_refuses(
    tmp_path: Path, bundle_tool: ModuleType, change: Callable[[Path], object], message: str
) -> None:
    root = _tree(tmp_path / "b")
    bundle_tool.write_manifest(root)
    change(root)
    with pytest.raises(bundle_tool.BundleError, match=message.replace(".", r"\.")):
        bundle_tool.verify_tree(root)


def test_lock_pins_name_version_and_hash(tmp_path: Path, bundle_tool: ModuleType) -> None:
    root = _tree(tmp_path / "b")
    torch = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    (root / "wheelhouse" / torch).write_bytes(b"t")
    bundle_tool.write_lock(root)
    lock = (root / "requirements.lock").read_text().splitlines()
    assert lock[0].startswith("demo-pkg==1.0 --hash=sha256:")
    assert lock[1].startswith("torch==2.13.0+cpu --hash=sha256:")


def test_lock_refuses_a_non_wheel_name(tmp_path: Path, bundle_tool: ModuleType) -> None:
    root = tmp_path / "b"
    (root / "wheelhouse").mkdir(parents=True)
    (root / "wheelhouse" / "notawheel.whl").write_bytes(b"x")
    with pytest.raises(bundle_tool.BundleError, match="not a wheel file name"):
        bundle_tool.write_lock(root)


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _file(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _file("../escape.txt"),
        _link("b/link", "/etc/passwd", tarfile.SYMTYPE),
        _link("b/hard", "/etc/passwd", tarfile.LNKTYPE),
    ],
    ids=["dotdot", "symlink-out", "hardlink-out"],
)
def test_extract_refuses_escapes(tmp_path: Path, bundle_tool: ModuleType,
                                 member: tarfile.TarInfo) -> None:
    archive = _tar_with(tmp_path, member)
    with pytest.raises(bundle_tool.BundleError, match="cannot extract"):
        bundle_tool.extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_extract_keeps_absolute_names_inside(tmp_path: Path, bundle_tool: ModuleType) -> None:
    # The data filter strips the leading "/", so the member lands under the destination, where
    # the manifest check then refuses it as a file nobody listed.
    marker = tmp_path / "outside" / "absolute.txt"
    bundle_tool.extract(_tar_with(tmp_path, _file(str(marker))), tmp_path / "out")
    assert not marker.exists()
    assert (tmp_path / "out" / str(marker).lstrip("/")).is_file()


def test_extract_refuses_an_existing_destination(tmp_path: Path, bundle_tool: ModuleType) -> None:
    archive = _tar_with(tmp_path, _file("b/ok.txt"))
    (tmp_path / "out").mkdir()
    with pytest.raises(bundle_tool.BundleError, match="already exists"):
        bundle_tool.extract(archive, tmp_path / "out")


def test_extract_strips_setuid(tmp_path: Path, bundle_tool: ModuleType) -> None:
    member = _file("b/tool")
    member.mode = 0o4755
    bundle_tool.extract(_tar_with(tmp_path, member), tmp_path / "out")
    assert (tmp_path / "out" / "b" / "tool").stat().st_mode & 0o7000 == 0
