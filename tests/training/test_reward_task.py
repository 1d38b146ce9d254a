"""Reward models on tiny bases: pairs in, a scalar scorer out, learned from a preference a tiny
model can pick up (the chosen answer says "good", the rejected one "bad"), through the engine and
through a real job (gate, vault, worker, audit)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import AccessDenied, InvalidInput, NotFound
from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inference import load_predictor
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.tasks import get_task
from appliance.training.tasks.reward import encode_answer
from tests.training.conftest import intent_records
from tests.training.tiny_models import make_tiny_llama

QUESTIONS = ["what is the weather today", "how do i check my balance", "my card was stolen",
             "tell me about tomorrow", "cancel my transfer please"]
ANSWERS = ["it is sunny today", "open the app and check the balance", "block the card in the app",
           "tomorrow is rainy", "the transfer is pending"]
FAST = {"learning_rate": 3e-3, "batch_size": 8, "epochs": 8}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl")


def pair_records(n: int = 100) -> list[dict[str, Any]]:
    """Pairs whose answers differ in one word: the preferred one is "good", the other "bad"
    (placed first or last, so position says nothing)."""
    out = []
    for i in range(n):
        answer = ANSWERS[i % len(ANSWERS)]
        good, bad = (f"good {answer}", f"bad {answer}") if i % 2 else (
            f"{answer} good", f"{answer} bad")
        out.append({"prompt": f"{QUESTIONS[i % len(QUESTIONS)]} {i}", "chosen": good,
                    "rejected": bad})
    return out


def test_reward_model_learns_the_preference(tiny_bert: Path) -> None:
    config = JobConfig(task="reward", dataset_ids=["ds_p"], **FAST)
    outcome = run_training(config, [DatasetInput("ds_p", "p", "0" * 64, pair_records())],
                           BaseModel("tiny-bert", tiny_bert, "1" * 64))
    assert outcome.status == "succeeded" and outcome.spec is not None
    test = outcome.metrics["test"]
    assert test["pairs"] == test["n"] == 10
    assert test["pairwise_accuracy"] >= 0.9 and test["margin_mean"] > 0  # chance: 0.5
    preference = outcome.metrics["preference"]
    assert preference["pairs"] == 10 and preference["scored_by"] == "the reward model"
    low, high = preference["wilson_95"]
    assert 0.5 < low < preference["pairwise_accuracy"] <= high + 1e-9 and high <= 1.0
    history = outcome.metrics["train"]["history"]
    assert history and all("pairwise_accuracy" in h for h in history)
    assert outcome.recipe["method"] == "full" and outcome.spec.task == "reward"

    assert outcome.spec.labels == []  # one output, a score: no label vocabulary

    predictor = load_predictor(outcome.weights or b"", tiny_bert, "cpu")
    assert predictor.model.head.out_features == 1  # type: ignore[union-attr]
    prompt = [{"role": "user", "content": "what is the weather today"}]
    pairs = [(prompt, "good it is sunny today"), (prompt, "bad it is sunny")]
    good, bad = predictor.score(pairs)
    assert good > bad

    # a model stored when reward specs carried the labels ["chosen", "rejected"] still loads,
    # with its one-output head, and scores alike
    from safetensors.torch import load, save

    from appliance.training.modeling import spec_from_bytes

    old_spec = replace(spec_from_bytes(outcome.weights or b""), labels=["chosen", "rejected"])
    old = save(load(outcome.weights or b""), metadata={"appliance": old_spec.to_json()})
    before = load_predictor(old, tiny_bert, "cpu")
    assert before.spec.labels == ["chosen", "rejected"]
    assert before.model.head.out_features == 1  # type: ignore[union-attr]
    assert before.score(pairs) == pytest.approx([good, bad], abs=1e-5)


def test_only_a_scalar_head_trains_without_two_labels(tiny_bert: Path) -> None:
    """Data preparation asks an encoder task with one output per label for two labels at least;
    a reward model (one output) has none."""
    from appliance.training.prepare import prepare
    from appliance.training.trainer import TrainHooks

    base = BaseModel("tiny-bert", tiny_bert, "1" * 64)
    reward = prepare(JobConfig(task="reward", dataset_ids=["ds_p"]),
                     [DatasetInput("ds_p", "p", "0" * 64, pair_records(20))], base, TrainHooks())
    assert reward.labels == [] and reward.stats.n_labels == 0
    one_label = [{**r, "label": "billing"} for r in intent_records(5)]
    with pytest.raises(InvalidInput, match="classification needs at least 2 labels, found 1"):
        prepare(JobConfig(task="classification", dataset_ids=["ds_c"]),
                [DatasetInput("ds_c", "c", "0" * 64, one_label)], base, TrainHooks())


def test_reward_model_on_a_causal_base(tmp_path: Path) -> None:
    """A causal LM as the reward model's body: its last token pooled, the pair through its chat
    template."""
    llama = make_tiny_llama(tmp_path / "llama")
    config = JobConfig(task="reward", dataset_ids=["ds_p"], **FAST)
    outcome = run_training(config, [DatasetInput("ds_p", "p", "0" * 64, pair_records(60))],
                           BaseModel("tiny-llama", llama, "3" * 64))
    assert outcome.status == "succeeded" and outcome.spec is not None
    assert outcome.spec.pooling == "last"
    assert outcome.metrics["preference"]["pairs"] == 6
    assert "generation" not in outcome.metrics  # a scorer, not a generator


def test_encodings_keep_the_answer(tiny_bert: Path, tmp_path: Path) -> None:
    from appliance.training.modeling import load_tokenizer

    turns = [{"role": "user", "content": "what is the weather today " * 20}]
    encoder = load_tokenizer(tiny_bert, causal=False)
    ids = encode_answer(encoder, turns, "it is sunny", 24)
    assert len(ids) == 24 and encoder.decode(ids[-4:-1]) == "it is sunny"  # then [SEP]
    causal = load_tokenizer(make_tiny_llama(tmp_path / "llama"), causal=False)
    ids = encode_answer(causal, turns, "it is sunny", 24)
    text = causal.decode(ids)
    assert len(ids) == 24 and "assistant" in text and text.rstrip().endswith("<|im_end|>")
    assert "it is sunny" in text  # cut from the left: the answer (what is pooled) stays


def test_records_that_are_not_pairs_are_refused_by_position() -> None:
    task = get_task("reward")
    config = JobConfig(task="reward", dataset_ids=["ds_p"])
    good = {"prompt": "hi", "chosen": "a", "rejected": "b"}
    with pytest.raises(InvalidInput, match="record 1") as info:
        task.to_examples([good, {"prompt": "hi", "chosen": "a"}, good], config, None)
    assert "'a'" not in str(info.value)  # positions, never values
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
             {"role": "user", "content": "and?"}]
    [pair] = task.to_examples([{**good, "prompt": turns}], config, "t")
    assert pair["prompt"][0]["content"] == "[t] hi" and len(pair["prompt"]) == 3


def test_dpo_refuses_full_fine_tuning(tmp_path: Path) -> None:
    llama = make_tiny_llama(tmp_path / "llama")
    config = JobConfig(task="dpo", dataset_ids=["ds_p"], method="full", epochs=1)
    with pytest.raises(InvalidInput, match="reference model is the base with the adapter"):
        run_training(config, [DatasetInput("ds_p", "p", "0" * 64, pair_records(30))],
                     BaseModel("tiny-llama", llama, "3" * 64))


# -- a job in a real home ------------------------------------------------------------------------


def ingest_pairs(ctx: Any, people: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """Pairs ingested as olivia and approved by carol (stored as given: no redaction)."""
    from appliance import datasets as ds

    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    spec = {"task": "raw", "redact": False}
    result = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(data), name="prefs",
                              source_name="prefs.jsonl", fmt="jsonl", spec=ds.parse_spec(spec))
    ds.approve_dataset(ctx, people["carol"], result.dataset_id, "fine")
    return str(result.dataset_id)


def test_reward_job_scores_through_the_gate(ctx: Any, people: dict[str, Any], bases: Any,
                                            make_dataset: Callable[..., str]) -> None:
    from appliance.training import jobs, models, worker

    before = set(Path(tempfile.gettempdir()).iterdir())
    records = pair_records()
    dataset_id = ingest_pairs(ctx, people, records)
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "reward", "dataset_ids": [dataset_id], "base_model": "tiny-bert",
        "checkpoint_every_steps": 5, **FAST})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    card = models.show_model(ctx, people["audra"], done.model_id).card  # auditors read cards
    assert card["task"] == "reward" and card["metrics"]["preference"]["pairs"] == 10
    assert card["metrics"]["preference"]["pairwise_accuracy"] >= 0.9

    items = [{"prompt": "my card was stolen", "response": "block the card in the app good"},
             {"prompt": [{"role": "user", "content": "my card was stolen"}],
              "response": "block the card in the app bad"}]
    good, bad = models.score(ctx, people["olivia"], done.model_id, items)
    assert good > bad
    [event] = [e for e in ctx.audit.query(action="model.score", limit=100)
               if e.details.get("call") == "score"]
    assert event.decision == "allow" and event.details["items"] == 2
    assert event.details["model_id"] == done.model_id and event.actor == "olivia"
    for who in ("carol", "audra"):  # compliance and auditors do not run models
        with pytest.raises(AccessDenied, match="may not model.score"):
            models.score(ctx, people[who], done.model_id, items)
    with pytest.raises(NotFound):
        models.score(ctx, people["olivia"], "mdl_000000000000", items)
    for bad_items, says in (([], "at least one item"), ([{"prompt": "hi"}], "item 0: 'response'"),
                            ([{"prompt": [{"role": "assistant", "content": "x"}],
                               "response": "y"}], "item 0: 'prompt'")):
        with pytest.raises(InvalidInput, match=says):
            models.score(ctx, people["olivia"], done.model_id, bad_items)

    classifier = jobs.submit_job(ctx, people["olivia"], {
        "task": "classification", "dataset_ids": [make_dataset(intent_records(10))],
        "base_model": "tiny-bert", "epochs": 1})
    other = worker.run_job(ctx, classifier.job_id)
    assert other is not None and other.model_id
    with pytest.raises(InvalidInput, match="score needs a reward model"):
        models.score(ctx, people["olivia"], other.model_id, items)

    needles = [r["chosen"].encode() + b'"' for r in records[:20]] + [b"prompt\": \"what"]
    assert_nothing_decrypted(ctx.home, before, needles)


def assert_nothing_decrypted(home: Path, before: set[Path], needles: list[bytes]) -> None:
    """No record text and no weight file under the home or in temp entries made since
    ``before``."""
    new_tmp = [p for p in Path(tempfile.gettempdir()).iterdir() if p not in before]
    for root in [home, *new_tmp]:
        for path in Path(root).rglob("*"):
            if path.is_file():
                assert not path.name.endswith(WEIGHT_SUFFIXES), path
                data = path.read_bytes()
                assert not any(needle in data for needle in needles), path
