"""RL from a reward model (task ``rloo``) on a tiny Llama: the policy moves toward what the judge
rewards, the reference is the base with the adapter disabled (one model in memory), held-out
win rate and KL reach the card; in a real home the reward model is a trained ``reward`` model
decrypted through the gate once, with an audited decision naming the job."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import InvalidInput, NotFound
from appliance.training.config import JobConfig, parse_job_config
from appliance.training.engine import run_training
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.tasks import get_task
from appliance.training.trainer import Judge, TrainHooks
from tests.training.test_dpo_task import causal_lms
from tests.training.test_reward_task import FAST as REWARD_FAST
from tests.training.test_reward_task import assert_nothing_decrypted, ingest_pairs, pair_records
from tests.training.tiny_models import make_tiny_llama

FAST = {"learning_rate": 2e-2, "batch_size": 4, "epochs": 3, "lora_r": 4, "max_new_tokens": 8}
QUESTIONS = ["what is my balance", "my card was stolen", "cancel my transfer",
             "where is my new card", "check my balance please"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


def prompts(n: int) -> list[dict[str, Any]]:
    return [{"prompt": f"{QUESTIONS[i % len(QUESTIONS)]} {i}"} for i in range(n)]


def cards(items: list[tuple[list[dict[str, str]], str]]) -> list[float]:
    """A judge that rewards each "card" in the answer (one word of the tiny model's hundred)."""
    return [float(answer.split().count("card")) for _, answer in items]


def test_rloo_moves_the_policy_toward_the_reward(tiny_llama: Path) -> None:
    seen: list[int] = []
    rewarded: list[dict[str, Any]] = []

    def count(progress: dict[str, Any]) -> None:
        if progress["phase"] == "training" and not seen:
            seen.append(causal_lms())
        if "reward" in progress:
            rewarded.append(progress)

    config = JobConfig(task="rloo", dataset_ids=["ds_q"], reward_model="mdl_judge", **FAST)
    hooks = TrainHooks(on_progress=count, judge=Judge("mdl_judge", cards))
    outcome = run_training(config, [DatasetInput("ds_q", "q", "0" * 64, prompts(50))],
                           BaseModel("tiny-llama", tiny_llama, "3" * 64), hooks)
    assert outcome.status == "succeeded" and outcome.spec is not None, outcome.reason
    assert seen == [1]  # the reference is the same model, its adapter disabled
    rewards = [p["reward"] for p in outcome.metrics["train"]["curve"] if "reward" in p]
    assert len(rewards) >= 6
    from appliance.training.jobs import _progress_text

    assert rewarded and " reward " in _progress_text(rewarded[-1])  # not RL's 0-valued loss
    later = rewards[len(rewards) // 2 :]
    assert sum(later) / len(later) > sum(rewards[:2]) / 2  # sampled answers: more "card"
    test = outcome.metrics["test"]
    assert test["prompts"] == 5 and test["win_rate"] > 0.5
    assert test["reward_mean"] > test["reference_reward_mean"]
    assert test["kl_mean"] > 0  # the policy left its reference
    judged = outcome.metrics["judged"]
    assert judged["judged_by"] == "mdl_judge" and judged["win_rate"] == test["win_rate"]
    low, high = judged["wilson_95"]
    assert low <= judged["win_rate"] <= high
    assert "memorization" not in outcome.metrics  # no record text is ever a training target
    assert outcome.recipe["method"] == "lora"
    assert any("samples 4 answers" in note for note in outcome.recipe["notes"])


def test_the_judge_is_required_and_only_for_rl(tiny_llama: Path) -> None:
    with pytest.raises(ValueError, match="learns from a reward model: set reward_model"):
        JobConfig(task="rloo", dataset_ids=["ds_q"])
    with pytest.raises(InvalidInput, match="samples_per_prompt apply to RL"):
        parse_job_config({"task": "sft", "dataset_ids": ["ds_q"], "samples_per_prompt": 4})
    with pytest.raises(InvalidInput, match="not generative"):
        parse_job_config({"task": "classification", "dataset_ids": ["ds_q"],
                          "reward_model": "mdl_abc"})
    with pytest.raises(InvalidInput, match="reward_model"):
        parse_job_config({"task": "rloo", "dataset_ids": ["ds_q"], "reward_model": "x; drop"})
    config = JobConfig(task="rloo", dataset_ids=["ds_q"], reward_model="mdl_judge", **FAST)
    with pytest.raises(InvalidInput, match="was given none"):  # a job layer that gave no judge
        run_training(config, [DatasetInput("ds_q", "q", "0" * 64, prompts(20))],
                     BaseModel("tiny-llama", tiny_llama, "3" * 64))


def test_prompts_come_from_any_dataset_that_has_them() -> None:
    task = get_task("rloo")
    config = JobConfig(task="rloo", dataset_ids=["ds_q"], reward_model="mdl_judge")
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "my balance"}, {"role": "assistant", "content": "42"}]
    records = [{"prompt": "a", "chosen": "x", "rejected": "y"}, {"prompt": "a"},
               {"messages": chat}, {"prompt": [{"role": "user", "content": "b"}]}]
    examples = task.to_examples(records, config, None)
    assert [e["prompt"] for e in examples] == [  # distinct, the chat without its last answer
        [{"role": "user", "content": "a"}], chat[:3], [{"role": "user", "content": "b"}]]
    with pytest.raises(InvalidInput, match=r"1 of 2 records do(es)? not make prompts .*record 1"):
        task.to_examples([{"prompt": "a"}, {"text": "no prompt"}], config, None)
    with pytest.raises(InvalidInput, match="canaries"):
        task.to_examples(records, config.model_copy(update={"canaries": 1}), None)


def test_sft_answers_are_judged_against_the_base(tiny_llama: Path) -> None:
    """A generative job given a reward model also reports its win rate against the base."""
    records = [{"prompt": f"{q} {i}", "response": "card"} for i, q in enumerate(QUESTIONS * 8)]
    config = JobConfig(task="sft", dataset_ids=["ds_s"], reward_model="mdl_judge",
                       learning_rate=1e-2, batch_size=8, epochs=2, lora_r=4,
                       eval_generations=4, memorization_records=2, max_new_tokens=8)
    outcome = run_training(config, [DatasetInput("ds_s", "s", "0" * 64, records)],
                           BaseModel("tiny-llama", tiny_llama, "3" * 64),
                           TrainHooks(judge=Judge("mdl_judge", cards)))
    judged = outcome.metrics["judged"]
    assert judged["prompts"] == 4 and judged["judged_by"] == "mdl_judge"
    assert 0 <= judged["win_rate"] <= 1 and "judged" not in outcome.metrics["generation"]


# -- a job in a real home ------------------------------------------------------------------------


def test_rloo_job_learns_from_a_trained_reward_model(
        ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str],
        tmp_path: Path) -> None:
    from appliance.training import jobs, models, registry, worker

    registry._insert(ctx, "tiny-llama", make_tiny_llama(tmp_path / "tiny-llama"),
                     registry.directory_sha256(tmp_path / "tiny-llama"))
    before = set(Path(tempfile.gettempdir()).iterdir())
    pairs = ingest_pairs(ctx, people, pair_records(40))
    reward = jobs.submit_job(ctx, people["olivia"], {
        "task": "reward", "dataset_ids": [pairs], "base_model": "tiny-bert", **REWARD_FAST,
        "epochs": 2})
    rewarded = worker.run_job(ctx, reward.job_id)
    assert rewarded is not None and rewarded.model_id, rewarded and rewarded.error

    for wrong, error in (("mdl_000000000000", NotFound), (None, InvalidInput)):
        with pytest.raises(error):
            jobs.submit_job(ctx, people["olivia"], {
                "task": "rloo", "dataset_ids": [pairs], "base_model": "tiny-llama",
                "reward_model": wrong or make_classifier(ctx, people, make_dataset)})

    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "rloo", "dataset_ids": [pairs], "base_model": "tiny-llama",
        "reward_model": rewarded.model_id, **FAST, "epochs": 1})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    card = models.show_model(ctx, people["audra"], done.model_id).card
    judged = card["metrics"]["judged"]
    assert judged["judged_by"] == rewarded.model_id and 0 <= judged["win_rate"] <= 1
    assert "kl_mean" in card["metrics"]["test"]
    [event] = [e for e in ctx.audit.query(limit=500) if e.details.get("call") == "judge"]
    assert event.decision == "allow" and event.actor == "olivia"
    assert event.details == {**event.details, "job_id": job.job_id,
                             "model_id": rewarded.model_id}
    # nothing decrypted on disk: no prompt, no weights, under the home or in temp
    assert_nothing_decrypted(ctx.home, before, [r["prompt"].encode() for r in pair_records(40)])


def make_classifier(ctx: Any, people: dict[str, Any], make_dataset: Callable[..., str]) -> str:
    from appliance.training import jobs, worker
    from tests.training.conftest import intent_records

    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "classification", "dataset_ids": [make_dataset(intent_records(10))],
        "base_model": "tiny-bert", "epochs": 1})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.model_id
    return str(done.model_id)
