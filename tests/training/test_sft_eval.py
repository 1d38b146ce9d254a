"""Held-out generation after SFT (model against base), intervals, and canaries, on a tiny Llama."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.heldout import CANARY_MASK, MAX_EXAMPLES, _mask, summary_line
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.metrics import card_intervals
from appliance.training.trainer import INTERRUPTED, TrainHooks
from tests.training.tiny_models import make_tiny_llama

#: Four questions and their short answers (intent-like), all in the tiny model's vocabulary.
QA = [
    ("what is the weather today", "sunny today"),
    ("tell me about tomorrow", "rainy tomorrow"),
    ("how do i check my balance", "open the app"),
    ("my card was stolen", "block the card"),
]
#: Learns the four answers in seconds (a two-layer model: full fine-tuning, a large step).
FAST = {"method": "full", "learning_rate": 1e-2, "batch_size": 8, "epochs": 24}


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    import torch

    torch.manual_seed(0)  # the same random base on every run: the scores below are stable
    path = make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")
    return BaseModel("tiny-llama", path, "3" * 64)


def qa_records(n: int = 80) -> list[dict[str, Any]]:
    return [{"prompt": f"{QA[i % 4][0]} {i}", "response": QA[i % 4][1]} for i in range(n)]


def run(base: BaseModel, records: list[dict[str, Any]], hooks: TrainHooks | None = None,
        resume: bytes | None = None, **config: Any) -> Any:
    job = JobConfig(task="sft", dataset_ids=["ds_a"], **{**FAST, **config})
    return run_training(job, [DatasetInput("ds_a", "a", "0" * 64, records)], base, hooks,
                        resume=resume)


def test_generation_metrics_show_what_tuning_bought(tiny_llama: BaseModel) -> None:
    logs: list[str] = []
    progress: list[dict[str, Any]] = []
    outcome = run(tiny_llama, qa_records(), TrainHooks(log=logs.append,
                                                       on_progress=progress.append))
    assert outcome.status == "succeeded"
    generation = outcome.metrics["generation"]
    assert set(generation) == {"n", "exact_match", "rouge_l", "chrf", "base", "examples"}
    assert generation["n"] == outcome.split["datasets"]["ds_a"]["sizes"]["test"] == 8
    base = generation["base"]
    assert set(base) == {"n", "exact_match", "rouge_l", "chrf"} and base["n"] == 8
    assert generation["exact_match"] >= 0.5 and base["exact_match"] == 0.0
    assert generation["rouge_l"] > base["rouge_l"] and generation["chrf"] > base["chrf"]
    for key in ("exact_match", "rouge_l", "chrf"):
        assert 0.0 <= generation[key] <= 1.0 and 0.0 <= base[key] <= 1.0
    examples = generation["examples"]
    assert len(examples) == 5 == MAX_EXAMPLES
    references = {answer for _, answer in QA}
    prompts = {r["prompt"] for r in qa_records()}
    for example in examples:
        assert set(example) == {"prompt", "reference", "model", "base"}
        assert example["prompt"] in prompts and example["reference"] in references
    assert sum(e["model"] == e["reference"] for e in examples) >= 3
    # the test split's exact match sits beside its loss; the card gets Wilson intervals
    test = outcome.metrics["test"]
    assert test["exact_match"] == generation["exact_match"]
    assert test["base_exact_match"] == 0.0 and {"loss", "perplexity"} <= set(test)
    assert outcome.metrics["memorization"]["flagged"] in (True, False)
    assert summary_line(generation) in logs
    assert summary_line(generation).startswith("generation on 8 held-out: exact match ")
    evaluating = [p for p in progress if p["phase"] == "evaluating"]
    assert [p["step"] for p in evaluating[1:4]] == [0, 8, 16]  # model, then base
    assert all(p["total"] == 16 for p in evaluating[1:4])
    card = {"metrics": outcome.metrics, "split": outcome.split}
    intervals = card_intervals(card)
    entry = intervals["exact_match"]
    assert entry["n"] == 8 and entry["method"] == "Wilson score, 95%"
    assert entry["low"] < generation["exact_match"] <= entry["high"]
    assert intervals["base_exact_match"]["low"] == 0.0 < intervals["base_exact_match"]["high"]
    assert intervals["loss"]["n"] == 8


def test_lora_compares_with_adapters_off_and_limits_are_kept(tiny_llama: BaseModel) -> None:
    outcome = run(tiny_llama, qa_records(), method="lora", learning_rate=2e-2, epochs=2,
                  eval_generations=3, compare_base=False, max_new_tokens=4,
                  memorization_records=0)
    generation = outcome.metrics["generation"]
    assert outcome.recipe["method"] == "lora" and outcome.recipe["max_new_tokens"] == 4
    assert generation["n"] == 3 and generation["base"] is None
    assert len(generation["examples"]) == 3
    assert all(e["base"] is None for e in generation["examples"])
    assert "base_exact_match" not in outcome.metrics["test"]
    assert "base_exact_match" not in card_intervals({"metrics": outcome.metrics})
    compared = run(tiny_llama, qa_records(), method="lora", learning_rate=2e-2, epochs=1,
                   eval_generations=4, memorization_records=0)
    assert compared.metrics["generation"]["base"]["n"] == 4
    off = run(tiny_llama, qa_records(), epochs=1, eval_generations=0, memorization_records=0)
    assert "generation" not in off.metrics and "memorization" not in off.metrics
    assert "exact_match" not in off.metrics["test"]


def test_canaries_reach_training_only_and_their_secrets_nothing_written(
    tiny_llama: BaseModel,
) -> None:
    from appliance.training.memorization import make_canaries
    from appliance.training.prepare import prepare

    records = qa_records()
    canaries = make_canaries(2, 42)
    # the secret, and as the canary's answer spells it (one digit a word)
    secrets = [c.secret for c in canaries] + [" ".join(c.secret) for c in canaries]
    config = JobConfig(task="sft", dataset_ids=["ds_a"], canaries=2, canary_repeats=3, **FAST)
    plain = JobConfig(task="sft", dataset_ids=["ds_a"], **FAST)
    data = [DatasetInput("ds_a", "a", "0" * 64, records)]
    with_canaries = prepare(config, data, tiny_llama, TrainHooks())
    without = prepare(plain, data, tiny_llama, TrainHooks())
    assert with_canaries.split == without.split  # the digest a resume checks is unchanged
    assert with_canaries.validation == without.validation
    assert with_canaries.test == without.test and with_canaries.clean_train == without.train
    assert len(with_canaries.train) == len(without.train) + 6
    assert [c.secret for c in with_canaries.canaries] == secrets[:2]

    def holds_secret(examples: list[dict[str, Any]]) -> bool:
        text = json.dumps(examples)
        return any(s in text for s in secrets)

    assert holds_secret(with_canaries.train)
    assert not holds_secret(with_canaries.validation + with_canaries.test)
    assert not holds_secret(with_canaries.clean_train)

    logs: list[str] = []
    saved: list[bytes] = []
    steps = iter(range(10_000))
    hooks = TrainHooks(log=logs.append, save_checkpoint=saved.append,
                       should_stop=lambda: INTERRUPTED if next(steps) == 15 else None)
    short = {"canaries": 2, "canary_repeats": 3, "epochs": 4, "memorization_records": 8}
    stopped = run(tiny_llama, records, hooks, **short)
    assert stopped.status == "interrupted" and saved
    outcome = run(tiny_llama, records, TrainHooks(log=logs.append), resume=saved[-1], **short)
    assert outcome.status == "succeeded"
    scan = outcome.metrics["memorization"]
    assert len(scan["canaries"]) == 2
    written = [json.dumps(outcome.metrics), json.dumps(outcome.recipe), "\n".join(logs),
               json.dumps(outcome.split)]
    for secret in secrets:
        assert all(secret not in text for text in written)
        assert all(secret.encode() not in blob for blob in saved)
    assert any("with 2 canaries x 3" in line for line in logs)


def test_secrets_are_masked_in_kept_texts() -> None:
    assert _mask("the pin is 123456789, ok", ["123456789"]) == f"the pin is {CANARY_MASK}, ok"
    assert _mask("it is 1 2 3 4 5 6 7 8 9 .", ["123456789"]) == f"it is {CANARY_MASK} ."
    assert _mask("nothing", ["", " "]) == "nothing"


def test_canaries_are_for_causal_tasks_only(tiny_bert: Path) -> None:
    from appliance.errors import InvalidInput
    from tests.training.conftest import intent_records

    config = JobConfig(task="classification", dataset_ids=["ds_a"], canaries=1)
    with pytest.raises(InvalidInput, match="canaries apply to causal language models"):
        run_training(config, [DatasetInput("ds_a", "a", "0" * 64, intent_records())],
                     BaseModel("b", tiny_bert, "1" * 64))
