"""KTO on a tiny Llama: rated answers (thumbs up for "good ...", down for "bad ..."), the
reference the base with the adapter disabled; the held-out implicit rewards take their labels'
signs, and no held-out generation is judged against undesirable answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inputs import BaseModel, DatasetInput
from tests.training.test_reward_task import pair_records
from tests.training.tiny_models import make_tiny_llama

# rated records become examples through prefdata's module (issue 15, contract 2)
pytest.importorskip("appliance.training.tasks.preference_data",
                    reason="tasks.preference_data (rated_examples) has not landed yet")


def rated_records(n: int) -> list[dict[str, Any]]:
    out = []
    for i, pair in enumerate(pair_records(n)):
        side, thumb = ("chosen", "up") if i % 2 else ("rejected", "down")
        out.append({"prompt": pair["prompt"], "response": pair[side], "rating": thumb})
    return out


def test_kto_learns_the_ratings(tmp_path: Path) -> None:
    llama = make_tiny_llama(tmp_path / "llama")
    config = JobConfig(task="kto", dataset_ids=["ds_r"], learning_rate=5e-3, batch_size=8,
                       epochs=6, lora_r=4)
    outcome = run_training(config, [DatasetInput("ds_r", "r", "0" * 64, rated_records(80))],
                           BaseModel("tiny-llama", llama, "3" * 64))
    assert outcome.status == "succeeded" and outcome.spec is not None
    losses = [p["loss"] for p in outcome.metrics["train"]["curve"] if "loss" in p]
    assert losses[0] == pytest.approx(0.5, abs=0.05)  # 1 - sigmoid(0) with policy = reference
    assert losses[-1] < losses[0]
    test = outcome.metrics["test"]
    assert test["n"] == 8 and test["desirable"] == test["undesirable"] == 4  # stratified
    assert test["reward_accuracy"] >= 0.75 and test["margin_mean"] > 0
    assert len(test["wilson_95"]) == 2
    assert "generation" not in outcome.metrics and "memorization" not in outcome.metrics
    assert outcome.recipe["method"] == "lora"


def test_kto_needs_both_kinds_of_answer(tmp_path: Path) -> None:
    llama = make_tiny_llama(tmp_path / "llama")
    records = [{**r, "rating": "up"} for r in rated_records(20)]
    config = JobConfig(task="kto", dataset_ids=["ds_r"], epochs=1)
    with pytest.raises(InvalidInput, match="rate every answer desirable"):
        run_training(config, [DatasetInput("ds_r", "r", "0" * 64, records)],
                     BaseModel("tiny-llama", llama, "3" * 64))
