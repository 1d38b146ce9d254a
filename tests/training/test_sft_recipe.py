"""The causal-LM recipe: LoRA on every linear layer, reasons recorded, QLoRA/bf16 by the facts."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.modeling import LORA_TARGETS, lora_targets
from appliance.training.recipe import (
    CAUSAL_CPU_TIME_BUDGET_S,
    BaseFacts,
    DataStats,
    Recipe,
    choose_quantization,
    choose_recipe,
)

SFT = {"task": "sft", "dataset_ids": ["ds_a"]}
STATS = DataStats(n_train=400, n_validation=50, n_labels=0, length_p50=41, length_p99=47,
                  length_max=60, answer_p99=7)
GIB = 2**30


def _recipe(facts: BaseFacts, device: str = "cpu", gpu_memory: int | None = None,
            **config: Any) -> Recipe:
    precision = "bf16" if device == "cuda" else "fp32"
    return choose_recipe(JobConfig(**SFT, **config), "causal", facts, STATS, device, precision,
                         lora_targets(facts.model_type), None, gpu_memory)


SMOLLM2 = BaseFacts("smollm2-135m-instruct", "llama", 134_515_008, 8192)


def test_a_small_causal_base_gets_lora_on_every_projection_with_reasons() -> None:
    recipe = _recipe(SMOLLM2)
    assert recipe.method == "lora"  # not full fine-tuning, although below 150M parameters
    assert recipe.lora == {"r": 16, "alpha": 32.0, "dropout": 0.05,
                           "target_modules": LORA_TARGETS["llama"]}
    assert len(LORA_TARGETS["llama"]) == 7
    assert recipe.learning_rate == 2e-3 and recipe.head_learning_rate is None
    assert recipe.batch_size == 16 and recipe.group_by_length
    assert recipe.max_length == 48  # the 99th percentile of rendered chats, rounded up to 8
    assert recipe.time_budget_s == CAUSAL_CPU_TIME_BUDGET_S and recipe.early_stopping_patience
    assert recipe.epochs == 10  # 25 steps an epoch, ~300 steps wanted, at most 10 epochs
    assert recipe.max_new_tokens == 16  # answers' p99 (7) + 8, at least 16
    assert recipe.quantization == "none" and not recipe.gradient_checkpointing
    notes = " | ".join(recipe.notes)
    for reason in ("method lora: a causal LM (135M parameters)",
                   "lora r 16, alpha 32, dropout 0.05 on q_proj, k_proj, v_proj, o_proj, "
                   "gate_proj, up_proj, down_proj",
                   "learning rate 0.002:", "max_length 48: 99th percentile of 47 tokens",
                   "epochs up to 10", "within 720s of training",
                   "evaluation generates up to 16 tokens"):
        assert reason in notes
    assert Recipe.from_dict(recipe.as_dict()) == recipe


def test_an_unknown_architecture_adapts_all_linear_layers() -> None:
    recipe = _recipe(BaseFacts("odd", "never-heard-of-it", 50_000_000, 2048))
    assert recipe.lora is not None and recipe.lora["target_modules"] == "all-linear"
    assert any("on every linear layer" in note for note in recipe.notes)


def test_epochs_follow_the_data_size() -> None:
    big = DataStats(n_train=20_000, n_validation=500, n_labels=0, length_p50=100,
                    length_p99=300, length_max=900, answer_p99=120)
    recipe = choose_recipe(JobConfig(**SFT), "causal", SMOLLM2, big, "cpu", "fp32",
                           LORA_TARGETS["llama"], None)
    assert recipe.epochs == 2 and recipe.max_length == 304 and recipe.max_new_tokens == 128


def test_the_job_s_own_settings_win() -> None:
    recipe = _recipe(SMOLLM2, learning_rate=2e-4, lora_r=8, epochs=3, max_length=64,
                     max_new_tokens=5, batch_size=4, lora_target_modules=["q_proj"])
    assert (recipe.learning_rate, recipe.epochs, recipe.max_length, recipe.batch_size) == (
        2e-4, 3.0, 64, 4)
    assert recipe.lora is not None and recipe.lora["r"] == 8 and recipe.lora["alpha"] == 16
    assert recipe.lora["target_modules"] == ["q_proj"]
    assert recipe.max_new_tokens == 5 and recipe.time_budget_s is None  # epochs were named
    assert not any(n.startswith(("lora r", "learning rate", "epochs")) for n in recipe.notes)
    full = _recipe(SMOLLM2, method="full")
    assert full.method == "full" and full.lora is None and full.learning_rate == 5e-5


def test_large_bases_train_with_gradient_checkpointing() -> None:
    seven_b = BaseFacts("mistral-7b", "mistral", 7_240_000_000, 32768)
    recipe = _recipe(seven_b)
    assert recipe.gradient_checkpointing
    assert any(n.startswith("gradient checkpointing: a 7.2B-parameter base") for n in
               recipe.notes)
    assert not _recipe(seven_b, gradient_checkpointing=False).gradient_checkpointing
    assert _recipe(SMOLLM2, gradient_checkpointing=True).gradient_checkpointing


def test_on_cuda_no_time_budget_and_qlora_only_where_bf16_does_not_fit() -> None:
    small = _recipe(SMOLLM2, "cuda", 80 * GIB)
    assert small.time_budget_s is None and small.precision == "bf16"
    assert small.quantization == "none"
    seven_b = BaseFacts("mistral-7b", "mistral", 7_240_000_000, 32768)
    assert _recipe(seven_b, "cuda", 80 * GIB).quantization == "none"
    tight = _recipe(seven_b, "cuda", 16 * GIB)
    assert tight.quantization == "4bit"
    assert any(n.startswith("quantization 4bit (QLoRA, NF4): the base needs about 22.2 GiB "
                            "in bf16, the GPU has 16.0 GiB") for n in tight.notes)
    assert _recipe(seven_b, "cuda", 16 * GIB, quantization="none").quantization == "none"
    assert _recipe(SMOLLM2, "cuda", 80 * GIB, quantization="4bit").quantization == "4bit"


@pytest.mark.parametrize(
    ("requested", "device", "method", "n_params", "memory", "expected"),
    [
        ("auto", "cpu", "lora", 7_000_000_000, None, "none"),  # CPU: never quantized
        ("auto", "cuda", "lora", 135_000_000, 24 * GIB, "none"),
        ("auto", "cuda", "lora", 7_000_000_000, 24 * GIB, "none"),  # 21.6 GiB: fits
        ("auto", "cuda", "lora", 8_000_000_000, 24 * GIB, "4bit"),  # 24.4 GiB: does not
        ("auto", "cuda", "full", 8_000_000_000, 24 * GIB, "none"),  # no 4-bit full tuning
        ("auto", "cuda", "lora", 8_000_000_000, None, "none"),  # memory unknown
        ("none", "cuda", "lora", 70_000_000_000, 24 * GIB, "none"),
        ("4bit", "cuda", "lora", 135_000_000, 80 * GIB, "4bit"),
    ],
)
def test_quantization_is_a_pure_function_of_the_facts(
    requested: str, device: str, method: str, n_params: int, memory: int | None,
    expected: str,
) -> None:
    quantization, note = choose_quantization(requested, device, method, n_params, memory)
    assert quantization == expected and (note is None) == (
        expected == "none"
    )


def test_impossible_quantization_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'4bit' needs a CUDA device"):
        choose_quantization("4bit", "cpu", "lora", 10, None)
    with pytest.raises(InvalidInput, match="method 'full' cannot"):
        choose_quantization("4bit", "cuda", "full", 10, 80 * GIB)


def test_encoders_keep_their_recipe() -> None:
    facts = BaseFacts("minilm", "bert", 22_700_000, 512)
    stats = DataStats(8000, 1000, 77, 12, 37, 80)
    recipe = choose_recipe(JobConfig(task="classification", dataset_ids=["ds_a"]), "encoder",
                           facts, stats, "cpu", "fp32", ["query"], "mean")
    assert (recipe.method, recipe.learning_rate, recipe.time_budget_s) == ("full", 3e-4, 390.0)
    assert recipe.quantization == "none" and recipe.max_new_tokens is None
