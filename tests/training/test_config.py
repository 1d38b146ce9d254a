"""Job configuration, task registry, splits, batching, metrics and recipes: no training here."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig, describe_fields, parse_job_config
from appliance.training.recipe import BaseFacts, DataStats, choose_recipe
from appliance.training.tasks import Task, get_task, register_task, task_names

OK = {"task": "classification", "dataset_ids": ["ds_1"]}


def test_minimal_config_defaults_to_the_recipe() -> None:
    config = parse_job_config(OK)
    assert (config.kind, config.method, config.learning_rate, config.epochs) == (
        "train",
        "auto",
        None,
        None,
    )
    assert set(OK) <= set(parse_job_config(OK).model_dump())


def test_every_field_has_help_text() -> None:
    assert all(describe_fields().values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "summarise"}, "unknown task 'summarise'; registered tasks: classification, "
         "dpo, kto, orpo, reward, rloo, sft"),
        ({"method": "full", "lora_r": 8}, "method 'full' takes no LoRA settings, got lora_r"),
        ({"dataset_ids": ["a", "b"], "dataset_weights": [1.0]}, "dataset_weights has 1 values"),
        ({"dataset_ids": ["a", "a"]}, "lists a dataset twice"),
        ({"dataset_weights": [0.0]}, "must all be positive"),
        ({"search_learning_rates": [1e-4]}, "search_* settings need kind 'search'"),
        ({"validation_fraction": 0.3, "test_fraction": 0.3}, "at least half for training"),
        ({"task": "sft", "pooling": "mean"}, "pooling applies to classification"),
        ({"device": "cpu", "precision": "fp16"}, "fp16 needs a CUDA device"),
        ({"learning_rate": 2.0}, "learning_rate"),
        ({"method": "adapters"}, "method"),
        ({"epochs": 3, "colour": "blue"}, "colour"),
        ({"dataset_ids": []}, "dataset_ids"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_reason(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_job_config({**OK, **changes})
    assert message in str(caught.value)


def test_stored_config_keeps_only_what_the_user_chose() -> None:
    config = parse_job_config({**OK, "epochs": 2})
    assert '"epochs": 2' in config.to_json() and "learning_rate" not in config.to_json()


def test_task_registry_validates_names() -> None:
    assert task_names() == ["classification", "dpo", "kto", "orpo", "reward", "rloo", "sft"]
    with pytest.raises(ValueError, match="must match"):
        register_task("Bad Name")
    with pytest.raises(ValueError, match="already registered"):

        @register_task("classification")
        class Other(Task):  # type: ignore[misc]
            pass


def test_deterministic_stratified_split() -> None:
    from appliance.training.data import split_indices

    keys = ["a"] * 50 + ["b"] * 30 + ["c"] * 1
    first = split_indices(keys, 0.1, 0.2, seed=7)
    assert first == split_indices(keys, 0.1, 0.2, seed=7)
    assert first != split_indices(keys, 0.1, 0.2, seed=8)
    test_keys = sorted(keys[i] for i in first.test)
    assert test_keys == ["a"] * 10 + ["b"] * 6  # 20% of each class; "c" stays in train
    assert 80 in first.train
    everything = sorted(first.train + first.validation + first.test)
    assert everything == list(range(len(keys)))
    assert first.record()["sizes"] == {"train": 57, "validation": 8, "test": 16}


def test_mix_by_weight_up_and_down_samples() -> None:
    from appliance.training.data import mix_by_weight

    a = [{"i": i, "d": "a"} for i in range(100)]
    b = [{"i": i, "d": "b"} for i in range(10)]
    mixed = mix_by_weight([a, b], [1.0, 1.0], seed=0)
    assert len(mixed) == 110
    assert sum(e["d"] == "b" for e in mixed) == 55  # b up-sampled to half
    assert len(mix_by_weight([a, b], None, seed=0)) == 110


def test_collator_pads_each_batch_to_its_longest() -> None:
    from appliance.training.data import PaddingCollator

    batch = PaddingCollator(0)(
        [{"input_ids": [5, 6, 7], "labels": 1}, {"input_ids": [5], "labels": 0}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    sequence = PaddingCollator(0, pad_to_multiple_of=4)(
        [{"input_ids": [1, 2], "labels": [-100, 2]}]
    )
    assert sequence["labels"].tolist() == [[-100, 2, -100, -100]]


def test_sft_loss_covers_the_response_only(tiny_gpt2: Any) -> None:
    from appliance.training.modeling import load_tokenizer

    tokenizer = load_tokenizer(tiny_gpt2, causal=True)
    task = get_task("sft")
    [example] = task.to_examples(
        [{"prompt": "what is the weather", "response": "it is sunny"}],
        JobConfig(task="sft", dataset_ids=["ds_a"]),
        None,
    )
    [feature] = task.encode([example], tokenizer, 64, [])
    prompt_len = feature["labels"].count(-100)
    response = tokenizer.decode(feature["input_ids"][prompt_len:])
    prompt = tokenizer.decode(feature["input_ids"][:prompt_len])
    assert "assistant" in prompt  # the chat template was applied
    assert response.replace(" ", "") == "itissunny<eos>"
    assert feature["labels"][prompt_len:] == feature["input_ids"][prompt_len:]


def test_classification_metrics() -> None:
    import numpy as np

    from appliance.training.metrics import classification_metrics

    logits = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    out = classification_metrics(logits, np.array([0, 1, 2, 2]), ["x", "y", "z"])
    assert out["accuracy"] == 0.75
    assert out["confusion_matrix"]["matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert out["per_class"]["z"]["recall"] == 0.5
    assert {"macro_f1", "weighted_f1", "macro_precision", "weighted_recall"} <= set(out)


def _facts(n_params: int) -> BaseFacts:
    return BaseFacts("b", "bert", n_params, 512)


STATS = DataStats(
    n_train=8000, n_validation=1000, n_labels=77, length_p50=12, length_p99=37, length_max=80
)


def test_default_recipe_for_a_small_encoder_on_cpu() -> None:
    config = JobConfig(**OK)
    recipe = choose_recipe(
        config, "encoder", _facts(22_700_000), STATS, "cpu", "fp32", ["query"], "mean"
    )
    assert (recipe.method, recipe.learning_rate, recipe.head_learning_rate) == ("full", 3e-4, 3e-3)
    assert recipe.freeze_embeddings and recipe.max_length == 40 and recipe.epochs == 5
    assert recipe.time_budget_s is not None and recipe.group_by_length
    on_gpu = choose_recipe(
        config, "encoder", _facts(22_700_000), STATS, "cuda", "bf16", ["q"], "mean"
    )
    assert on_gpu.time_budget_s is None


def test_default_recipe_for_a_large_base_is_lora() -> None:
    recipe = choose_recipe(
        JobConfig(**OK),
        "encoder",
        _facts(350_000_000),
        STATS,
        "cpu",
        "fp32",
        ["query", "value"],
        "mean",
    )
    assert recipe.method == "lora" and recipe.lora is not None
    assert recipe.lora["target_modules"] == ["query", "value"] and recipe.lora["r"] == 16


def test_explicit_hyperparameters_win() -> None:
    config = JobConfig(**OK, method="lora", learning_rate=1e-4, lora_r=4, epochs=2, max_length=32)
    recipe = choose_recipe(config, "encoder", _facts(22_700_000), STATS, "cpu", "fp32", ["q"], None)
    assert (recipe.method, recipe.learning_rate, recipe.epochs, recipe.max_length) == (
        "lora",
        1e-4,
        2.0,
        32,
    )
    assert recipe.lora is not None and recipe.lora["r"] == 4 and recipe.time_budget_s is None


def test_lora_targets_per_architecture() -> None:
    from appliance.training.modeling import lora_targets

    assert "query" in lora_targets("bert") and "c_attn" in lora_targets("gpt2")
    assert lora_targets("t5") == ["q", "v"]  # PEFT's table
    assert lora_targets("never-heard-of-it") == "all-linear"


def test_checkpoint_bytes_round_trip_with_weights_only() -> None:
    import torch

    from appliance.training import checkpoint

    state = {"model": {"w": torch.ones(2)}, "rng": checkpoint.capture_rng(), "note": "x"}
    back = checkpoint.from_bytes(checkpoint.to_bytes(state))
    assert torch.equal(back["model"]["w"], torch.ones(2)) and back["note"] == "x"
    checkpoint.restore_rng(back["rng"])
    with pytest.raises(ValueError, match="not an appliance training checkpoint"):
        checkpoint.from_bytes(
            checkpoint.to_bytes({}).replace(b"appliance-checkpoint/1", b"appliance-checkpoint/9")
        )
