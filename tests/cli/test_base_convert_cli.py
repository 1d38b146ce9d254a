"""``python -m appliance.training.bundled --home DIR``: what installers run after ``init`` to
convert and register the bundled LLM, so that the first SFT job does not wait for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.config import update_saved_settings
from appliance.context import open_context
from tests.cli.test_cli import cli_home, run  # noqa: F401  (the fixture, shared)

REPO = Path(__file__).resolve().parents[2]


def _entry_point(home: str) -> subprocess.CompletedProcess[str]:
    # -I as in deploy/install-offline.sh: the installed code only, nothing from the directory
    return subprocess.run(
        [sys.executable, "-I", "-m", "appliance.training.bundled", "--home", home],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "APPLIANCE_HOME"},
    )


@pytest.mark.slow
def test_the_entry_point_registers_the_bundled_llm_once(
    cli_home: dict[str, Any],  # noqa: F811
    smollm2: Any,
    smollm2_models_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = cli_home["home"]
    update_saved_settings(home, models_dir=str(smollm2_models_dir))
    target = smollm2_models_dir / "smollm2-135m-instruct"

    first = _entry_point(home)

    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout == (
        f"base model smollm2-135m-instruct registered: {target} (sha256 {smollm2.sha256})\n"
    )
    code, out, _ = run(capsys, "--home", home, "model", "base", "list", "--json",
                       token=cli_home["tokens"]["olivia"])
    listed = {b["name"]: b for b in json.loads(out)}
    assert code == 0 and listed["smollm2-135m-instruct"]["sha256"] == smollm2.sha256

    again = _entry_point(home)
    assert again.returncode == 0 and again.stdout == first.stdout
    ctx = open_context(home)
    try:
        events = list(ctx.audit.query(action="model.base.register",
                                      resource="base_model:smollm2-135m-instruct"))
    finally:
        ctx.close()
    assert len(events) == 1 and events[0].actor == "system"
    assert events[0].details["gguf_sha256"] == smollm2.gguf_sha256


def test_the_entry_point_refuses_a_missing_home(tmp_path: Path) -> None:
    result = _entry_point(str(tmp_path / "nowhere"))
    assert result.returncode == 9, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "nowhere").exists()
