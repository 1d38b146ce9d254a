"""The ML core on tiny models: records in memory -> weights bytes and metrics, no vault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inference import load_predictor
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.trainer import INTERRUPTED, TrainHooks
from tests.training.conftest import intent_records, sft_records

FAST = {"learning_rate": 3e-3, "batch_size": 8}


def dataset(
    records: list[dict[str, Any]], dataset_id: str = "ds_a", name: str = "a"
) -> DatasetInput:
    return DatasetInput(dataset_id, name, "0" * 64, records)


def bert(path: Path) -> BaseModel:
    return BaseModel("tiny-bert", path, "1" * 64)


def test_classification_with_lora_end_to_end(tiny_bert: Path) -> None:
    logs: list[str] = []
    progress: list[dict[str, Any]] = []
    config = JobConfig(
        task="classification", dataset_ids=["ds_a"], method="lora", epochs=3, lora_r=4, **FAST
    )
    outcome = run_training(
        config,
        [dataset(intent_records())],
        bert(tiny_bert),
        TrainHooks(log=logs.append, on_progress=progress.append),
    )
    assert outcome.status == "succeeded" and outcome.weights
    test = outcome.metrics["test"]
    assert test["n"] == 12 and 0.0 <= test["accuracy"] <= 1.0
    assert set(test["per_class"]) == {"balance", "card", "transfer"}
    assert outcome.recipe["lora"]["r"] == 4 and outcome.recipe["method"] == "lora"
    assert outcome.split["datasets"]["ds_a"]["sizes"] == {"train": 96, "validation": 12, "test": 12}
    training = [p for p in progress if p["phase"] == "training"]
    assert training[-1]["step"] == training[-1]["total"] == 36 and training[-1]["eta_s"] == 0
    assert progress[-1]["phase"] == "evaluating"
    assert any(line.startswith("epoch 2.00: validation accuracy") for line in logs)
    assert not any(line.startswith("epoch 3.00") for line in logs)  # scored once, after training
    assert any("validation accuracy" in line and "final" in line for line in logs)
    predictor = load_predictor(outcome.weights, tiny_bert, "cpu")
    out = predictor.classify(["i lost my card", "what is my balance", "transfer failed"])
    assert [set(o) for o in out] == [{"label", "score"}] * 3
    assert all(o["label"] in {"balance", "card", "transfer"} and 0 < o["score"] <= 1 for o in out)


def test_full_finetuning_learns_the_intents(tiny_bert: Path) -> None:
    config = JobConfig(task="classification", dataset_ids=["ds_a"], method="full", epochs=8, **FAST)
    outcome = run_training(config, [dataset(intent_records(60))], bert(tiny_bert))
    assert outcome.metrics["test"]["accuracy"] >= 0.75  # chance is 0.33
    assert outcome.recipe["freeze_embeddings"] is True
    assert outcome.metrics["train"]["best_validation"] >= 0.75


def test_sft_with_chat_template(tiny_gpt2: Path) -> None:
    config = JobConfig(
        task="sft", dataset_ids=["ds_a"], method="full", epochs=4, learning_rate=5e-3, batch_size=8
    )
    outcome = run_training(config, [dataset(sft_records())], BaseModel("g", tiny_gpt2, "2" * 64))
    assert outcome.status == "succeeded"
    test = outcome.metrics["test"]
    assert {"loss", "perplexity", "exact_match"} <= set(test) and test["perplexity"] < 40
    assert outcome.recipe["method"] == "full"  # asked for (a causal LM's default is LoRA)
    assert outcome.metrics["generation"]["n"] == outcome.split["datasets"]["ds_a"]["sizes"]["test"]
    text = load_predictor(outcome.weights, tiny_gpt2, "cpu").generate("what is the weather", 6)
    assert isinstance(text, str)


def test_interrupted_run_resumes_to_the_same_weights(tiny_bert: Path) -> None:
    """Stop at step 7 with a checkpoint, resume from the bytes: the result matches a run that
    was never interrupted (data order, optimizer, scheduler and RNG were all restored)."""
    import torch
    from safetensors.torch import load

    config = JobConfig(
        task="classification",
        dataset_ids=["ds_a"],
        method="lora",
        epochs=2,
        lora_r=4,
        device="cpu",
        **FAST,
    )  # CUDA kernels are not bit-reproducible
    records = [dataset(intent_records())]
    straight = run_training(config, records, bert(tiny_bert))

    saved: list[bytes] = []
    steps = iter(range(1000))
    hooks = TrainHooks(
        save_checkpoint=saved.append,
        checkpoint_interval_s=1e9,
        should_stop=lambda: INTERRUPTED if next(steps) == 6 else None,
    )
    stopped = run_training(config, records, bert(tiny_bert), hooks)
    assert stopped.status == "interrupted" and stopped.weights is None and saved
    resumed = run_training(config, records, bert(tiny_bert), resume=saved[-1])
    assert resumed.status == "succeeded"
    a, b = load(straight.weights), load(resumed.weights)  # type: ignore[arg-type]
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert resumed.metrics["test"]["accuracy"] == straight.metrics["test"]["accuracy"]


def test_resume_refuses_changed_data(tiny_bert: Path) -> None:
    config = JobConfig(task="classification", dataset_ids=["ds_a"], epochs=1, **FAST)
    saved: list[bytes] = []
    hooks = TrainHooks(save_checkpoint=saved.append, should_stop=lambda: INTERRUPTED)
    run_training(config, [dataset(intent_records())], bert(tiny_bert), hooks)
    with pytest.raises(InvalidInput, match="datasets changed"):
        run_training(config, [dataset(intent_records(seed=1))], bert(tiny_bert), resume=saved[-1])


def test_search_picks_on_validation_and_reports_test(tiny_bert: Path) -> None:
    config = JobConfig(
        task="classification",
        dataset_ids=["ds_a"],
        kind="search",
        method="lora",
        batch_size=8,
        search_learning_rates=[1e-4, 3e-3],
        search_epochs=[2],
        search_lora_ranks=[4],
    )
    outcome = run_training(config, [dataset(intent_records())], bert(tiny_bert))
    trials = outcome.metrics["search"]["trials"]
    assert [t["learning_rate"] for t in trials] == [1e-4, 3e-3]
    best = outcome.metrics["search"]["best_trial"]
    scores = [t["validation_accuracy"] for t in trials]
    assert scores[best] == max(scores)
    assert outcome.recipe["learning_rate"] == trials[best]["learning_rate"]
    assert "accuracy" in outcome.metrics["test"]


def test_multitask_tags_inputs_and_mixes_by_weight(tiny_bert: Path) -> None:
    config = JobConfig(
        task="classification",
        dataset_ids=["ds_a", "ds_b"],
        epochs=1,
        dataset_weights=[3.0, 1.0],
        task_tags=["bank", "pay"],
        **FAST,
    )
    first = dataset(intent_records(), "ds_a")
    second = dataset([{"text": f"refund please {i}", "label": "refund"} for i in range(30)], "ds_b")
    outcome = run_training(config, [first, second], bert(tiny_bert))
    assert outcome.spec is not None and outcome.spec.tags == ["bank", "pay"]
    assert outcome.spec.labels == ["balance", "card", "refund", "transfer"]
    assert outcome.split["weights"] == [3.0, 1.0]
    assert outcome.split["datasets"]["ds_b"]["sizes"]["train"] == 24


def test_records_without_the_fields_are_refused_without_quoting_them(tiny_bert: Path) -> None:
    config = JobConfig(task="classification", dataset_ids=["ds_a"], epochs=1)
    records = [{"body": "secret text of a customer", "label": "x"}] * 5
    with pytest.raises(InvalidInput) as caught:
        run_training(config, [dataset(records)], bert(tiny_bert))
    assert "5 records lack" in str(caught.value) and "secret" not in str(caught.value)


def test_time_budget_stops_training_and_still_scores(tiny_bert: Path) -> None:
    ticks = iter(range(10**6))
    config = JobConfig(
        task="classification", dataset_ids=["ds_a"], epochs=50, time_budget_s=30, **FAST
    )
    logs: list[str] = []
    hooks = TrainHooks(log=logs.append, clock=lambda: float(next(ticks)))  # a second per read
    outcome = run_training(config, [dataset(intent_records())], bert(tiny_bert), hooks)
    assert outcome.status == "succeeded"
    assert outcome.metrics["train"]["epochs"] < 50
    assert any("time budget of 30s reached" in line for line in logs)


@pytest.mark.gpu
def test_cuda_in_bf16_classification_sft_and_resume(tiny_bert: Path, tiny_gpt2: Path) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    config = JobConfig(task="classification", dataset_ids=["ds_a"], method="lora", epochs=6, **FAST)
    saved: list[bytes] = []
    steps = iter(range(1000))
    hooks = TrainHooks(
        save_checkpoint=saved.append, should_stop=lambda: INTERRUPTED if next(steps) == 20 else None
    )
    records = [dataset(intent_records(60))]
    stopped = run_training(config, records, bert(tiny_bert), hooks)
    assert stopped.status == "interrupted" and saved
    outcome = run_training(config, records, bert(tiny_bert), resume=saved[-1])
    assert outcome.hardware["device"] == "cuda" and outcome.hardware["precision"] == precision
    assert outcome.recipe["device"] == "cuda" and outcome.metrics["test"]["accuracy"] >= 0.75
    assert "gpu" in outcome.hardware
    predictor = load_predictor(outcome.weights or b"", tiny_bert)
    assert predictor.device == "cuda" and len(predictor.classify(["i lost my card"] * 100)) == 100
    sft = run_training(
        JobConfig(task="sft", dataset_ids=["ds_a"], method="full", epochs=4, learning_rate=5e-3,
                  batch_size=8),
        [dataset(sft_records())],
        BaseModel("g", tiny_gpt2, "2" * 64),
    )
    assert sft.hardware["device"] == "cuda" and sft.metrics["test"]["perplexity"] < 40
    assert isinstance(load_predictor(sft.weights or b"", tiny_gpt2).generate("what is", 4), str)


def test_loss_curve_has_every_logging_step_and_each_evaluation(tiny_bert: Path) -> None:
    """96 training examples in batches of 8: 12 steps an epoch, a log every 3 steps; epochs 1
    and 2 are evaluated (the last is scored once, after training)."""
    curves: list[list[dict[str, Any]]] = []
    config = JobConfig(task="classification", dataset_ids=["ds_a"], epochs=3, **FAST)
    outcome = run_training(
        config, [dataset(intent_records())], bert(tiny_bert), TrainHooks(on_curve=curves.append)
    )
    curve = outcome.metrics["train"]["curve"]
    train = [p["step"] for p in curve if "loss" in p]
    assert train == list(range(3, 37, 3))
    assert [p["step"] for p in curve if "eval_loss" in p] == [12, 24]
    assert all(p["loss"] > 0 for p in curve if "loss" in p)
    assert curves and curves[-1] == curve  # the job layer saw the whole curve, as it grew
    assert len({len(c) for c in curves}) == len(curves)


def test_early_stopping_is_transformers_callback_keeping_best_weights_in_memory(
    tiny_bert: Path, tmp_path: Path
) -> None:
    from transformers import EarlyStoppingCallback

    from appliance.training import trainer as trainer_module

    seen: list[Any] = []
    original = trainer_module.ApplianceTrainer.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen.append(self)

    logs: list[str] = []
    # a learning rate of ~0 cannot improve validation accuracy: patience 1 stops at epoch 2
    config = JobConfig(
        task="classification", dataset_ids=["ds_a"], epochs=10, learning_rate=1e-12,
        early_stopping_patience=1, batch_size=8,
    )
    try:
        trainer_module.ApplianceTrainer.__init__ = spy  # type: ignore[method-assign]
        outcome = run_training(
            config, [dataset(intent_records())], bert(tiny_bert), TrainHooks(log=logs.append),
            scratch_dir=tmp_path,
        )
    finally:
        trainer_module.ApplianceTrainer.__init__ = original  # type: ignore[method-assign]
    train = outcome.metrics["train"]
    assert train["early_stopped"] is True and train["epochs"] == 2.0
    assert any(line.startswith("early stop: no better validation accuracy in 1") for line in logs)
    handler = seen[0].callback_handler.callbacks
    assert any(isinstance(c, EarlyStoppingCallback) for c in handler)
    assert seen[0].args.save_strategy == "no" and not seen[0].args.load_best_model_at_end
    assert list(tmp_path.iterdir()) == []  # no checkpoint directory, no weights on disk
