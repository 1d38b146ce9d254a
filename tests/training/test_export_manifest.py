"""The export manifest names its approver; ``export verify`` shows it; old bundles still verify.

Bundles are built here from stand-in weights with the home's real signing key (verification never
parses the weights), so these tests need no training run; tests/training/test_jobs.py runs the
whole request, approve, download and verify workflow on a trained model.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.crypto import load_public_key, load_signing_key
from appliance.errors import IntegrityError
from appliance.training import export

CARD = {"model_id": "mdl_0123456789ab", "task": "classification"}


def keys(home: Path) -> tuple[Any, Any]:
    return (load_signing_key(home / "keys" / "audit-signing.key"),
            load_public_key(home / "keys" / "audit-signing.pub"))


def reviewed_bundle(home: Path) -> bytes:
    signing, _ = keys(home)
    return export.build_bundle(b"stand-in weights", CARD, "exp_0123456789ab", "olivia",
                               "2026-01-02T03:04:05+00:00", signing)


def released_bundle(home: Path, tmp_path: Path) -> tuple[Path, bytes]:
    signing, _ = keys(home)
    reviewed = reviewed_bundle(home)
    path = tmp_path / "released.tar"
    path.write_bytes(export.seal_approval(reviewed, "carol", "2026-01-03T00:00:00+00:00",
                                          signing))
    return path, reviewed


def manifest_of(path: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(export._untar(path.read_bytes())[export.MANIFEST])
    return manifest


def test_released_manifest_names_requester_and_approver(home: Path, tmp_path: Path) -> None:
    path, reviewed = released_bundle(home, tmp_path)
    manifest = manifest_of(path)
    assert manifest["format"] == "appliance-export/3"
    assert manifest["requested_by"] == "olivia"
    assert manifest["approvals"] == [{"approved_by": "carol",
                                      "approved_at": "2026-01-03T00:00:00+00:00"}]
    assert manifest["reviewed_bundle_sha256"] == hashlib.sha256(reviewed).hexdigest()
    report = export.verify_bundle(path, keys(home)[1])
    assert (report["requested_by"], report["approved_by"], report["approved_at"]) == (
        "olivia", "carol", "2026-01-03T00:00:00+00:00")
    assert report["reviewed_bundle_sha256"] == hashlib.sha256(reviewed).hexdigest()
    # the released bundle carries the reviewed one's files byte for byte
    released_files = export._untar(path.read_bytes())
    for name, data in export._untar(reviewed).items():
        if name in export.CONTENT_FILES:
            assert released_files[name] == data


def test_unapproved_bundle_does_not_verify(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "reviewed.tar"
    path.write_bytes(reviewed_bundle(home))
    with pytest.raises(IntegrityError, match="expected at least one approval, got none"):
        export.verify_bundle(path, keys(home)[1])


def test_approver_cannot_be_changed_without_breaking_the_signature(
    home: Path, tmp_path: Path
) -> None:
    path, _ = released_bundle(home, tmp_path)
    files = export._untar(path.read_bytes())
    forged = files[export.MANIFEST].replace(b'"carol"', b'"olivia"')
    assert forged != files[export.MANIFEST]
    bad = tmp_path / "forged.tar"
    bad.write_bytes(export._tar({**files, export.MANIFEST: forged}))
    with pytest.raises(IntegrityError):
        export.verify_bundle(bad, keys(home)[1])


def test_first_format_bundle_still_verifies(home: Path, tmp_path: Path) -> None:
    """A bundle released before manifests named approvers (format 1, no approvals field)."""
    signing, public = keys(home)
    weights = b"stand-in weights"
    card = json.dumps(CARD, indent=2, sort_keys=True).encode() + b"\n"
    manifest = {
        "format": "appliance-export/1", "export_id": "exp_old", "model_id": CARD["model_id"],
        "requested_by": "olivia", "created_at": "2025-06-01T00:00:00+00:00",
        "signing_key_sha256": "unused",
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in ((export.CARD, card), (export.WEIGHTS, weights))},
    }
    path = tmp_path / "old.tar"
    path.write_bytes(export._signed({export.WEIGHTS: weights, export.CARD: card}, manifest,
                                    signing))
    report = export.verify_bundle(path, public)
    assert report["ok"] and report["requested_by"] == "olivia"
    assert report["approved_by"] is None
    assert report["note"] == "format appliance-export/1 does not record the approver"


def test_export_verify_cli_prints_the_approver(home: Path, tmp_path: Path) -> None:
    path, _ = released_bundle(home, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "appliance.cli.main", "export", "verify", str(path),
         "--home", str(home)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    fields = dict(line.split(None, 1) for line in done.stdout.splitlines()[1:] if line.strip())
    assert fields["requested_by"] == "olivia" and fields["approved_by"] == "carol"
