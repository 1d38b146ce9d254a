"""`systemd-analyze verify` is clean and `systemd-analyze security` scores what deploy/README.md
says, for the units alone and with every example drop-in applied.

verify checks that ExecStart= points at an executable, so the test runs it in a private mount
namespace where a tmpfs on /opt holds a stand-in /opt/appliance/venv/bin/appliance: nothing on
the host is touched. `security --offline=true` reads the files; no running systemd is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_support import DEPLOY

UNITS = ("appliance.service", "appliance-worker.service")
STAND_IN = (
    "mount -t tmpfs tmpfs /opt && mkdir -p /opt/appliance/venv/bin && "
    "printf '#!/bin/sh\\n' >/opt/appliance/venv/bin/appliance && "
    "chmod 755 /opt/appliance/venv/bin/appliance && exec \"$@\""
)


def _prefix() -> list[str]:
    unshare = ["unshare", "--mount"] + ([] if os.geteuid() == 0 else ["--map-root-user"])
    return [*unshare, "sh", "-c", STAND_IN, "sh"]


@pytest.fixture(scope="module")
def analyze() -> list[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (Debian: apt-get install systemd)")
    probe = subprocess.run([*_prefix(), "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here for the stand-in: {probe.stderr.strip()}")
    return [*_prefix(), "systemd-analyze"]


def _units_dir(tmp_path: Path, drop_ins: bool) -> Path:
    target = tmp_path / ("with-drop-ins" if drop_ins else "units")
    target.mkdir()
    for unit in UNITS:
        shutil.copy(DEPLOY / "systemd" / unit, target)
        if drop_ins:
            source = DEPLOY / "systemd" / f"{unit}.d"
            (target / f"{unit}.d").mkdir()
            for example in source.glob("*.conf.example"):
                shutil.copy(example, target / f"{unit}.d" / example.name.removesuffix(".example"))
    return target


def _recorded_scores() -> dict[tuple[str, bool], float]:
    """The scores deploy/README.md states, from its table rows `| unit | alone | drop-ins |`."""
    text = (DEPLOY / "README.md").read_text()
    scores = {}
    for unit, alone, with_drop_ins in re.findall(
        r"^\| `([\w-]+\.service)` \| ([\d.]+) \| ([\d.]+) \|", text, re.MULTILINE
    ):
        scores[(unit, False)] = float(alone)
        scores[(unit, True)] = float(with_drop_ins)
    return scores


@pytest.mark.parametrize("drop_ins", [False, True], ids=["units", "with-drop-ins"])
def test_verify_is_clean(analyze: list[str], tmp_path: Path, drop_ins: bool) -> None:
    units = _units_dir(tmp_path, drop_ins)
    result = subprocess.run([*analyze, "verify", *(f"./{u}" for u in UNITS)], cwd=units,
                            capture_output=True, text=True, timeout=120)
    # verify exits 0 on unknown directives and only warns: any output at all is a failure.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize("drop_ins", [False, True], ids=["units", "with-drop-ins"])
def test_security_exposure_matches_the_record(analyze: list[str], tmp_path: Path,
                                              drop_ins: bool) -> None:
    units = _units_dir(tmp_path, drop_ins)
    result = subprocess.run([*analyze, "security", "--offline=true", "--no-pager",
                             *(f"./{u}" for u in UNITS)],
                            cwd=units, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    measured = {
        unit: float(level)
        for unit, level in re.findall(r"Overall exposure level for ([\w-]+\.service): ([\d.]+)",
                                      result.stdout)
    }
    recorded = _recorded_scores()
    for unit in UNITS:
        assert measured[unit] == recorded[(unit, drop_ins)], (unit, measured, recorded)
        assert measured[unit] <= 1.5, f"{unit} exposure {measured[unit]}: more than 'OK'"
