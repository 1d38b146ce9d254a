"""ORPO on a tiny Llama: SFT and the odds-ratio preference in one loss, no reference model; the
loss matches the paper's formula computed by hand, and the tuned model prefers the chosen
answers on held-out pairs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.recipe import BaseFacts, DataStats, Recipe, choose_recipe
from tests.training.test_dpo_task import FAST, QUIET
from tests.training.test_reward_task import pair_records
from tests.training.tiny_models import make_tiny_llama


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def test_orpo_learns_the_preference_without_a_reference(tiny_llama: Path) -> None:
    config = JobConfig(task="orpo", dataset_ids=["ds_p"], **FAST, **QUIET)
    outcome = run_training(config, [DatasetInput("ds_p", "p", "0" * 64, pair_records(80))],
                           BaseModel("tiny-llama", tiny_llama, "3" * 64))
    assert outcome.status == "succeeded" and outcome.spec is not None
    test = outcome.metrics["test"]
    assert test["pairs"] == 8 and test["pairwise_accuracy"] >= 0.75 and test["margin_mean"] > 0
    assert outcome.metrics["preference"]["scored_by"].startswith("implicit reward, lambda 0.1")
    assert "reference" not in " ".join(outcome.recipe["notes"])
    assert outcome.metrics["generation"]["n"] == 4 and "memorization" in outcome.metrics
    losses = [p["loss"] for p in outcome.metrics["train"]["curve"] if "loss" in p]
    assert losses[-1] < losses[0]  # the NLL of the chosen answers falls with the odds term


def test_the_loss_is_the_papers(tiny_llama: Path) -> None:
    import torch
    from torch.nn.functional import log_softmax
    from transformers import AutoModelForCausalLM

    from appliance.training.modeling import load_tokenizer
    from appliance.training.tasks import get_task
    from appliance.training.tasks.orpo import LAMBDA, orpo_loss

    task = get_task("orpo")
    tokenizer = load_tokenizer(tiny_llama, causal=True)
    config = JobConfig(task="orpo", dataset_ids=["ds_p"])
    examples = task.to_examples(pair_records(2), config, None)
    batch = task.collator(int(tokenizer.pad_token_id), None)(  # type: ignore[misc]
        task.encode(examples, tokenizer, 64, []))
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    with torch.no_grad():
        loss, outputs = orpo_loss(model, batch)
        logits = model(input_ids=batch["input_ids"],
                       attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    mask = targets != -100
    token = log_softmax(logits.float(), -1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    mean = (token * mask).sum(-1) / mask.sum(-1)
    chosen, rejected = mean[:2], mean[2:]
    nll = -(token[:2] * mask[:2]).sum() / mask[:2].sum()

    def odds(p: torch.Tensor) -> torch.Tensor:
        return p - torch.log(1 - torch.exp(p))

    expected = nll - LAMBDA * torch.log(torch.sigmoid(odds(chosen) - odds(rejected))).mean()
    assert float(loss) == pytest.approx(float(expected), rel=1e-4)
    assert outputs["rewards"].shape == (2, 2)
    assert float(outputs["rewards"][0, 0]) == pytest.approx(LAMBDA * float(chosen[0]), rel=1e-4)
    assert math.isfinite(float(loss))


def test_orpo_may_fine_tune_fully() -> None:
    """No reference: method full is not refused (DPO's is), at a full fine-tuning rate."""
    from appliance.errors import InvalidInput

    with pytest.raises(InvalidInput, match="reference"):
        recipe("dpo")
    full = recipe("orpo")
    assert full.method == "full" and full.learning_rate < 1e-4


def recipe(task: str) -> Recipe:
    stats = DataStats(n_train=200, n_validation=20, n_labels=0, length_p50=40, length_p99=80,
                      length_max=90, answer_p99=20)
    base = BaseFacts("smollm2", "llama", 135_000_000, 2048)
    config = JobConfig(task=task, dataset_ids=["ds_p"], method="full")
    return choose_recipe(config, "causal", base, stats, "cpu", "fp32", "all-linear", None)
