"""``model show`` prints the generation metrics and the memorization scan; ``export show`` and
``export list`` print what a bundle holds and what the scan found."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from appliance.cli import training as cli_training
from appliance.training.models import ModelInfo

GENERATION = {"n": 500, "exact_match": 0.7, "rouge_l": 0.81, "chrf": 75.25,
              "base": {"n": 500, "exact_match": 0.02, "rouge_l": 0.1, "chrf": 12.5},
              "examples": []}
SCAN = {"flagged": True, "reasons": ["canary 1 extracted verbatim", "records: 4% verbatim"]}


class Backend:
    """What the CLI's local or remote backend hands back."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def show_model(self, model_id: str) -> ModelInfo:
        return ModelInfo(model_id=model_id, job_id="job_1", task="sft", method="lora",
                         base_model="smollm2-135m-instruct", created_by="olivia",
                         created_at="2025-01-01T00:00:00+00:00",
                         card={"metrics": self.metrics})

    def show_export(self, export_id: str) -> Any:
        return Export(export_id)

    def list_exports(self) -> list[Any]:
        return [Export("exp_1"), Export("exp_2", contents="adapter", memorization=None)]


class Export:
    def __init__(self, export_id: str, contents: str = "merged",
                 memorization: dict[str, Any] | None = SCAN) -> None:
        self.export_id, self.model_id, self.state = export_id, "mdl_1", "PENDING_REVIEW"
        self.requested_by, self.approved_by = "olivia", None
        self.contents, self.memorization = contents, memorization

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def show(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
         metrics: dict[str, Any], as_json: bool = False) -> str:
    monkeypatch.setattr(cli_training, "backend", lambda args: Backend(metrics))
    args: Any = argparse.Namespace(model_id="mdl_1", json=as_json)
    assert cli_training.cmd_model_show(args) == 0
    return capsys.readouterr().out


def lines(out: str) -> dict[str, str]:
    return {line.split("  ", 1)[0].strip(): line.split("  ", 1)[1].strip()
            for line in out.splitlines() if "  " in line}


def test_model_show_gives_generation_metrics_beside_the_base(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # the test split's metrics name exact match too (its own n: the prompts scored); shown once
    test = {"loss": 1.2, "perplexity": 3.32, "exact_match": 0.7, "base_exact_match": 0.02}
    found = lines(show(monkeypatch, capsys, {"test": test, "generation": GENERATION,
                                             "memorization": SCAN}))
    assert "test exact_match" not in found and "test base_exact_match" not in found
    assert found["test perplexity"].startswith("3.320")
    assert found["generation n"] == "500 held-out prompts, the base on the same"
    assert found["generation exact_match"] == (
        "0.700 (95% CI 0.658-0.739, Wilson score, n=500); "
        "base 0.020 (95% CI 0.011-0.036, Wilson score, n=500)")
    assert found["generation rouge_l"] == "0.810; base 0.100"
    assert found["generation chrf"] == "75.2; base 12.5"
    assert found["memorization"] == ("flagged: canary 1 extracted verbatim; "
                                     "records: 4% verbatim")


def test_model_show_without_a_base_or_scan(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    only = {k: v for k, v in GENERATION.items() if k != "base"}
    found = lines(show(monkeypatch, capsys, {"generation": only,
                                             "memorization": {"flagged": False,
                                                              "reasons": []}}))
    assert found["generation exact_match"].startswith("0.700 (95% CI") and "base" not in \
        found["generation exact_match"]
    assert found["memorization"] == "not flagged"
    plain = lines(show(monkeypatch, capsys, {"test": {"loss": 1.0}}))
    assert "memorization" not in plain and not any(k.startswith("generation") for k in plain)


def test_model_show_json_has_the_intervals(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(show(monkeypatch, capsys, {"generation": GENERATION}, as_json=True))
    assert data["generation_intervals"]["exact_match"]["n"] == 500
    assert data["generation_intervals"]["base_exact_match"]["low"] == pytest.approx(0.0109,
                                                                                  abs=1e-3)


def test_export_show_and_list(monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli_training, "backend", lambda args: Backend({}))
    assert cli_training.cmd_export_show(argparse.Namespace(export_id="exp_1", json=False)) == 0
    found = lines(capsys.readouterr().out)
    assert found["contents"] == "merged"
    assert found["memorization"].startswith("flagged: canary 1 extracted verbatim")
    assert cli_training.cmd_export_list(argparse.Namespace(json=False)) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ID", "MODEL", "CONTENTS", "STATE", "MEMORIZATION",
                                "REQUESTED", "BY", "APPROVED", "BY"]
    assert table[2].split()[:5] == ["exp_1", "mdl_1", "merged", "PENDING_REVIEW", "FLAGGED"]
    assert table[3].split()[:5] == ["exp_2", "mdl_1", "adapter", "PENDING_REVIEW", "-"]
