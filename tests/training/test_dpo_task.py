"""DPO on a tiny Llama: the loss falls from log 2, the reference is the base with the adapter
disabled (one model in memory), and a job in a real home leaves the preference figures on the
card and nothing decrypted on disk."""

from __future__ import annotations

import gc
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest

from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.trainer import TrainHooks
from tests.training.test_reward_task import WEIGHT_SUFFIXES, pair_records
from tests.training.tiny_models import make_tiny_llama

FAST = {"learning_rate": 5e-3, "batch_size": 8, "epochs": 6, "lora_r": 4}
QUIET = {"eval_generations": 4, "compare_base": False, "memorization_records": 4}


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def causal_lms() -> int:
    from transformers import LlamaForCausalLM

    gc.collect()  # models already dropped (the fixture's, saved and let go) are not counted
    return sum(type(o) is LlamaForCausalLM for o in gc.get_objects())


def test_dpo_learns_the_preference_against_the_base(tiny_llama: Path) -> None:
    seen: list[int] = []

    def count(progress: dict[str, Any]) -> None:
        if progress["phase"] == "training" and not seen:
            seen.append(causal_lms())

    config = JobConfig(task="dpo", dataset_ids=["ds_p"], **FAST, **QUIET)
    outcome = run_training(config, [DatasetInput("ds_p", "p", "0" * 64, pair_records(80))],
                           BaseModel("tiny-llama", tiny_llama, "3" * 64),
                           TrainHooks(on_progress=count))
    assert outcome.status == "succeeded" and outcome.spec is not None
    assert seen == [1]  # the reference is the same model, its adapter disabled: no copy
    losses = [p["loss"] for p in outcome.metrics["train"]["curve"] if "loss" in p]
    assert losses[0] == pytest.approx(math.log(2), abs=0.1)  # policy = reference at the start
    assert losses[-1] < losses[0] - 0.05  # beta 0.1: small margins, a slow fall on a tiny model
    test = outcome.metrics["test"]
    assert test["pairs"] == 8 and test["pairwise_accuracy"] >= 0.75 and test["margin_mean"] > 0
    preference = outcome.metrics["preference"]
    assert preference["scored_by"].startswith("implicit reward, beta 0.1")
    assert len(preference["wilson_95"]) == 2
    assert outcome.recipe["method"] == "lora" and outcome.spec.lora is not None
    assert outcome.metrics["generation"]["n"] == 4  # the chosen answers as references
    assert "memorization" in outcome.metrics


def test_the_reference_is_the_base_model(tiny_llama: Path) -> None:
    """With the adapter changed, the loss's reference log-probs are still the base's own."""
    import torch
    from transformers import AutoModelForCausalLM

    from appliance.training.modeling import ModelSpec, build_model, load_tokenizer
    from appliance.training.tasks import get_task
    from appliance.training.tasks.dpo import answer_logps, dpo_loss

    task = get_task("dpo")
    tokenizer = load_tokenizer(tiny_llama, causal=True)
    config = JobConfig(task="dpo", dataset_ids=["ds_p"])
    examples = task.to_examples(pair_records(4), config, None)
    batch = task.collator(int(tokenizer.pad_token_id), None)(  # type: ignore[misc]
        task.encode(examples, tokenizer, 64, []))
    lora = {"r": 4, "alpha": 8.0, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    spec = ModelSpec("dpo", "lora", "causal", "tiny-llama", "3" * 64, [], None, lora, [], 64)
    model = build_model(spec, tiny_llama).eval()
    with torch.no_grad():
        loss, _ = dpo_loss(model, batch)
        assert float(loss) == pytest.approx(math.log(2), abs=1e-5)  # a new adapter is zero
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.add_(0.5)
        _, outputs = dpo_loss(model, batch)
        base = AutoModelForCausalLM.from_pretrained(str(tiny_llama), local_files_only=True).eval()
        policy = answer_logps(model, batch)
        reference = answer_logps(base, batch)
    rewards = 0.1 * (policy - reference)
    assert torch.allclose(outputs["rewards"], torch.stack(rewards.chunk(2), dim=1), atol=1e-4)
    assert not torch.allclose(policy, reference)


def test_dpo_job_in_a_real_home(ctx: Any, people: dict[str, Any], tiny_llama: Path) -> None:
    from appliance import datasets as ds
    from appliance.training import jobs, models, registry, worker

    registry._insert(ctx, "tiny-llama", tiny_llama, registry.directory_sha256(tiny_llama))
    before = set(Path(tempfile.gettempdir()).iterdir())
    records = pair_records(60)
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    result = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(data), name="prefs",
                              source_name="prefs.jsonl", fmt="jsonl",
                              spec=ds.parse_spec({"task": "raw", "redact": False}))
    ds.approve_dataset(ctx, people["carol"], result.dataset_id, "fine")
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "dpo", "dataset_ids": [result.dataset_id], "base_model": "tiny-llama",
        "checkpoint_every_steps": 3, **FAST, **QUIET})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    card = models.show_model(ctx, people["audra"], done.model_id).card
    preference = card["metrics"]["preference"]
    assert preference["pairs"] == 6 and set(preference) >= {
        "pairwise_accuracy", "margin_mean", "wilson_95"}
    assert card["hyperparameters"]["lora"]["r"] == 4
    text = models.generate(ctx, people["olivia"], done.model_id, "what is the weather today", 4)
    assert isinstance(text, str)

    needles = [r["chosen"].encode() + b'"' for r in records[:20]]
    new_tmp = [p for p in Path(tempfile.gettempdir()).iterdir() if p not in before]
    for root in [ctx.home, *new_tmp]:
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert not path.name.endswith(WEIGHT_SUFFIXES), path
                data = path.read_bytes()
                assert not any(needle in data for needle in needles), path
