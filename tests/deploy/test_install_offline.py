"""deploy/install-offline.sh, on a small hand-made bundle: every check refuses what it should,
and a good bundle installs with no index and runs `appliance init` on the chosen home.

The real bundle (torch and all) is exercised in test_offline_bundle.py (slow).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from deploy_support import DEPLOY, base_python

FAKE_CLI = '''
import os, pathlib, sys
def main():
    home = pathlib.Path(os.environ["APPLIANCE_HOME"])
    if sys.argv[1:] == ["init"]:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.json").write_text("{}")
        print("initialised", home)
    return 0
'''


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(directory: Path) -> Path:
    """A minimal pure wheel (PEP 427) whose `appliance init` writes the home's config.json."""
    dist = "appliance-0.1.0.dist-info"
    files = {
        "appliance_fake.py": FAKE_CLI.encode(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: appliance\nVersion: 0.1.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": b"[console_scripts]\nappliance = appliance_fake:main\n",
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    path = directory / "appliance-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def make_bundle(tmp_path: Path, tool: ModuleType, *, python: str = "3.11",
                tamper: bool = False) -> Path:
    root = tmp_path / "stage" / "appliance-bundle-0.1.0"
    (root / "wheelhouse").mkdir(parents=True)
    make_wheel(root / "wheelhouse")
    (root / "deploy").mkdir()
    shutil.copy(DEPLOY / "bundle_tool.py", root / "deploy")
    (root / "bundle.json").write_text(json.dumps({"version": "0.1.0", "python": python}))
    tool.write_lock(root)
    tool.write_manifest(root)
    if tamper:  # changed after the manifest was written, as an attacker in transit would
        (root / "bundle.json").write_text(json.dumps({"version": "9.9.9", "python": python}))
    bundle = tmp_path / "appliance-bundle-0.1.0.tar"
    with tarfile.open(bundle, "w") as tar:
        tar.add(root, arcname=root.name)
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    Path(f"{bundle}.sha256").write_text(f"{digest}  {bundle.name}\n")
    return bundle


def ed25519_keypair(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key, pub = tmp_path / f"{name}.key", tmp_path / f"{name}.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
    return key, pub


def sign(bundle: Path, key: Path) -> None:
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin",
                    "-in", f"{bundle}.sha256", "-out", f"{bundle}.sig"], check=True)


def install(bundle: Path, prefix: Path, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEPLOY / "install-offline.sh"), str(bundle), "--prefix", str(prefix),
         "--python", base_python(), *args],
        capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_installs_with_no_index_and_runs_init(tmp_path: Path, bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool)
    key, pub = ed25519_keypair(tmp_path, "signer")
    sign(bundle, key)
    prefix = tmp_path / "opt"
    # Sources the host's pip would otherwise add, all pointing nowhere: the script must drop them.
    hostile = {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_FIND_LINKS": str(tmp_path),
               "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}

    result = install(bundle, prefix, "--pubkey", str(pub), env=hostile)

    assert result.returncode == 0, result.stderr
    assert "signature OK" in result.stdout
    assert "manifest OK: 4 files" in result.stdout
    assert (prefix / "venv" / "bin" / "appliance").exists()
    config = prefix / "home" / "config.json"
    assert config.is_file()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # the script's umask 077
    # ... while the code stays readable by the service user, who is not root.
    assert stat.S_IMODE(prefix.stat().st_mode) == 0o755
    assert stat.S_IMODE((prefix / "venv" / "pyvenv.cfg").stat().st_mode) == 0o644
    assert json.loads((prefix / "share" / "bundle.json").read_text())["version"] == "0.1.0"


@pytest.mark.slow
def test_second_install_keeps_the_home_and_needs_force(tmp_path: Path,
                                                       bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool)
    prefix = tmp_path / "opt"
    assert install(bundle, prefix).returncode == 0
    (prefix / "home" / "config.json").write_text('{"kept": true}')

    again = install(bundle, prefix)
    assert again.returncode == 1
    assert "exists (use --force to replace it)" in again.stderr

    forced = install(bundle, prefix, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "already initialised; left as it is" in forced.stdout
    assert json.loads((prefix / "home" / "config.json").read_text()) == {"kept": True}


def _refused(result: subprocess.CompletedProcess[str], message: str, prefix: Path) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr
    assert not (prefix / "venv").exists(), "nothing may be installed from a refused bundle"


def test_refuses_a_signature_by_another_key(tmp_path: Path, bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool)
    key, _ = ed25519_keypair(tmp_path, "attacker")
    _, pub = ed25519_keypair(tmp_path, "vendor")
    sign(bundle, key)
    _refused(install(bundle, tmp_path / "opt", "--pubkey", str(pub)),
             "signature does not verify", tmp_path / "opt")


def test_refuses_a_missing_signature_when_a_key_is_given(tmp_path: Path,
                                                         bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool)
    _, pub = ed25519_keypair(tmp_path, "vendor")
    _refused(install(bundle, tmp_path / "opt", "--pubkey", str(pub)), ".sig missing",
             tmp_path / "opt")


def test_refuses_a_changed_tarball(tmp_path: Path, bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool)
    with bundle.open("r+b") as handle:
        handle.seek(700)
        handle.write(b"X")
    _refused(install(bundle, tmp_path / "opt"), "sha256 mismatch", tmp_path / "opt")


def test_refuses_a_file_changed_after_the_manifest(tmp_path: Path,
                                                   bundle_tool: ModuleType) -> None:
    # The outer digest matches (recomputed by the attacker); the per-file manifest does not.
    bundle = make_bundle(tmp_path, bundle_tool, tamper=True)
    _refused(install(bundle, tmp_path / "opt"), "bundle.json: sha256 mismatch", tmp_path / "opt")


def test_refuses_a_bundle_for_another_python(tmp_path: Path, bundle_tool: ModuleType) -> None:
    bundle = make_bundle(tmp_path, bundle_tool, python="3.99")
    _refused(install(bundle, tmp_path / "opt"), "bundle is for python 3.99", tmp_path / "opt")


def test_refuses_a_tarball_that_is_not_a_bundle(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar"
    with tarfile.open(bogus, "w") as tar:
        tar.add(DEPLOY / "bundle_tool.py", arcname="something/else.py")
    _refused(install(bogus, tmp_path / "opt"), "expected one appliance-bundle-* directory",
             tmp_path / "opt")
