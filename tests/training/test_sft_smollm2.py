"""An SFT job on the real bundled SmolLM2-135M-Instruct, with defaults, through the worker."""

from __future__ import annotations

import json
from typing import Any

import pytest

from appliance.training import jobs, models, worker
from appliance.training.modeling import LORA_TARGETS

INTENTS = {
    "lost_card": ["i lost my card", "my card is gone", "cannot find my card"],
    "balance": ["what is my balance", "how much money do i have", "show my balance"],
    "refund": ["where is my refund", "refund not received", "i want my money back"],
}


def intent_records() -> list[dict[str, Any]]:
    styles = ["{q}", "hi, {q}", "{q} please", "{q}?"]
    return [
        {"prompt": style.format(q=q), "response": intent}
        for intent, queries in INTENTS.items()
        for q in queries
        for style in styles
    ]


@pytest.mark.slow
def test_an_sft_job_with_defaults_on_the_bundled_smollm2(
    ctx: Any, people: dict[str, Any], make_dataset: Any, smollm2_base: str
) -> None:
    dataset_id = make_dataset(intent_records(), task="sft", name="intents")
    # defaults, but a short run: a minute of training, a few prompts to score
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "sft", "dataset_ids": [dataset_id], "time_budget_s": 60,
        "eval_generations": 4, "memorization_records": 4,
    })
    assert job.base_model == smollm2_base == "smollm2-135m-instruct"
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error

    recipe = done.recipe
    assert recipe["method"] == "lora" and recipe["lora"]["r"] == 16
    assert recipe["lora"]["target_modules"] == LORA_TARGETS["llama"]
    assert recipe["learning_rate"] == 2e-3 and recipe["time_budget_s"] == 60
    assert 32 <= recipe["max_length"] <= 64  # SmolLM2's system prompt, the query, the intent
    assert recipe["quantization"] == "none" and not recipe["gradient_checkpointing"]
    assert any(note.startswith("method lora") for note in recipe["notes"])

    generation = done.metrics["generation"]
    assert generation["n"] == 4 and generation["base"]["n"] == 4
    assert generation["base"]["exact_match"] == 0.0  # the base knows none of our intent names
    for example in models.read_generation_examples(ctx, people["olivia"], done.model_id):
        assert example["reference"] in INTENTS and example["base"]
    assert done.metrics["memorization"]["flagged"] in (True, False)
    assert done.metrics["train"]["steps"] > 0

    card = models.show_model(ctx, people["audra"], done.model_id).card
    assert card["metrics"]["generation"] == generation
    assert "memorization" in card["metrics"]
    lines = [entry["line"] for entry in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert any(line.startswith("generation on 4 held-out: exact match") for line in lines)
    answer = models.generate(ctx, people["olivia"], done.model_id, "i lost my card", 8)
    assert isinstance(answer, str) and len(answer) < 200
    assert "lost_card" not in json.dumps(done.recipe)  # the recipe holds no record text
