"""`appliance model show` prints each test metric with its n and 95% interval."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from appliance.cli import training as cli_training
from appliance.training.models import ModelInfo

CARD = {"metrics": {"test": {
    "n": 4, "accuracy": 1.0, "macro_f1": 1.0,
    "confusion_matrix": {"labels": ["a", "b"], "matrix": [[2, 0], [0, 2]]}}}}


class Backend:
    """What the CLI's local or remote backend hands back for ``show_model``."""

    def show_model(self, model_id: str) -> ModelInfo:
        return ModelInfo(model_id=model_id, job_id="job_1", task="classification",
                         method="lora", base_model="b", created_by="olivia",
                         created_at="2025-01-01T00:00:00+00:00", card=CARD)


@pytest.mark.parametrize("as_json", [False, True])
def test_model_show_gives_n_and_intervals(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str],
                                          as_json: bool) -> None:
    monkeypatch.setattr(cli_training, "backend", lambda args: Backend())
    args: Any = argparse.Namespace(model_id="mdl_1", json=as_json)
    assert cli_training.cmd_model_show(args) == 0
    out = capsys.readouterr().out
    if as_json:
        intervals = json.loads(out)["test_intervals"]
        assert intervals["accuracy"]["n"] == 4
        assert intervals["accuracy"]["low"] == pytest.approx(0.5101, abs=1e-4)
        assert intervals["macro_f1"]["note"].startswith("n too small")
    else:
        lines = {line.split("  ", 1)[0].strip(): line for line in out.splitlines()}
        assert "1.000 (95% CI 0.510-1.000, Wilson score, n=4)" in lines["test accuracy"]
        assert "1.000 (n=4; n too small" in lines["test macro_f1"]
