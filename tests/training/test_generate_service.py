"""``model.generate`` in the service: a model trained through the real job path, and bases.

What the audit log holds for each call (the decision before, the outcome after, the weights'
read through the gate the first time only), what a reference may name, and the refusals.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import AccessDenied, IntegrityError, InvalidInput, NotFound
from tests.training.conftest import sft_records
from tests.training.tiny_models import make_tiny_llama


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture
def llama_base(ctx: Any, tiny_llama: Path, bases: Any) -> str:
    from appliance.training import registry

    registry._insert(ctx, "tiny-llama", tiny_llama, registry.directory_sha256(tiny_llama))
    return "tiny-llama"


def events(ctx: Any, action: str) -> list[Any]:
    return list(ctx.audit.query(action=action, limit=1000))


def train_sft(ctx: Any, people: dict[str, Any], make_dataset: Callable[..., str]) -> str:
    from appliance.training import jobs, worker

    dataset_id = make_dataset(sft_records(24), task="sft", name="qa")
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "sft", "dataset_ids": [dataset_id], "base_model": "tiny-llama", "epochs": 1,
        "batch_size": 8, "learning_rate": 5e-3, "eval_generations": 4, "compare_base": False,
        "memorization_records": 0})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    assert done.model_id is not None
    return done.model_id


def test_a_trained_model_answers_and_each_call_is_audited(
        ctx: Any, people: dict[str, Any], llama_base: str,
        make_dataset: Callable[..., str]) -> None:
    from appliance.training import chat, models

    model_id = train_sft(ctx, people, make_dataset)
    prompts = ["what is the weather today", "tell me about tomorrow"]
    first = chat.generate(ctx, people["oscar"], model_id, prompts,
                          chat.make_options(max_new_tokens=6))
    assert len(first) == 2 and all(a.output_tokens <= 6 for a in first)
    decision, load = events(ctx, "model.generate")[-2:]
    assert decision.actor == "oscar" and decision.resource == f"model:{model_id}"
    assert decision.purpose == "inference" and decision.details["stream"] is False
    assert decision.details["prompt_sha256"] == tuple(
        hashlib.sha256(p.encode()).hexdigest() for p in prompts)
    # the weights were decrypted through the gate once, under this call's decision
    assert load.details["call"] == "load" and load.details["for_seq"] == decision.seq
    assert load.details["object_id"].startswith("obj_")
    [done] = events(ctx, "model.generate.completed")
    assert done.details["allowed_seq"] == decision.seq
    assert done.details["allowed_hash"] == decision.hash
    assert done.details["output_tokens"] == tuple(a.output_tokens for a in first)

    # cached: a second call is decided and completed, with no second read of the weights
    again = chat.generate(ctx, people["olivia"], model_id, prompts[:1],
                          chat.make_options(max_new_tokens=6))
    assert again[0].text == first[0].text  # greedy: the same answer
    assert [e.details.get("call") for e in events(ctx, "model.generate")] == [None, "load", None]
    assert len(events(ctx, "model.generate.completed")) == 2

    # the one-prompt form older callers use: text back, under the same action
    text = models.generate(ctx, people["olivia"], model_id, "what is the weather", 5)
    assert text == chat.generate(ctx, people["olivia"], model_id, ["what is the weather"],
                                 chat.make_options(max_new_tokens=5))[0].text

    # the base beside it, for comparison; both are offered to pick from
    [base] = chat.generate(ctx, people["olivia"], "base:tiny-llama", prompts[:1],
                           chat.make_options(max_new_tokens=6))
    assert isinstance(base.text, str)
    assert events(ctx, "model.generate")[-1].resource == "base_model:tiny-llama"
    # trained models first, then the causal bases by name (encoders cannot generate)
    assert chat.generative_models(ctx, people["olivia"]) == [model_id, "base:tiny-gpt2",
                                                             "base:tiny-llama"]

    with pytest.raises(AccessDenied, match="may not model.generate"):
        chat.generate(ctx, people["audra"], model_id, prompts)
    assert events(ctx, "model.generate")[-1].decision == "deny"

    log = b"".join(p.read_bytes() for p in (ctx.settings.home / "audit").glob("segment-*"))
    assert b"weather" not in log and b"tomorrow" not in log


def test_references_and_refusals(ctx: Any, people: dict[str, Any], llama_base: str) -> None:
    from appliance.training import chat

    olivia = people["olivia"]
    with pytest.raises(InvalidInput, match="is not a causal language model"):
        chat.generate(ctx, olivia, "base:tiny-bert", ["hello"])
    with pytest.raises(NotFound, match="no base model 'gpt-9'"):
        chat.generate(ctx, olivia, "base:gpt-9", ["hello"])
    with pytest.raises(NotFound, match="no model mdl_000000000000"):
        chat.generate(ctx, olivia, "mdl_000000000000", ["hello"])
    with pytest.raises(InvalidInput, match="is not a model"):
        chat.generate(ctx, olivia, "tiny-llama", ["hello"])
    with pytest.raises(InvalidInput, match="at most 64 prompts"):
        chat.generate(ctx, olivia, "base:tiny-llama", ["hello"] * 65)
    with pytest.raises(InvalidInput, match="max_new_tokens must be a whole number from 1 to"):
        chat.make_options(max_new_tokens=4096)
    with pytest.raises(InvalidInput, match="top_p must be above 0"):
        chat.make_options(top_p=0)
    with pytest.raises(InvalidInput, match="seed must be a whole number"):
        chat.make_options(seed=-1)
    # none of these reached a decision: nothing was asked of the policy
    assert events(ctx, "model.generate") == []


def test_a_base_changed_on_disk_is_refused_after_the_decision(
        ctx: Any, people: dict[str, Any], tiny_llama: Path, tmp_path: Path) -> None:
    from appliance.training import chat, registry

    copy = Path(shutil.copytree(tiny_llama, tmp_path / "copy"))
    registry._insert(ctx, "copied", copy, registry.directory_sha256(copy))
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    with pytest.raises(IntegrityError, match="changed since it was registered"):
        chat.generate(ctx, people["olivia"], "base:copied", ["hello"])
    [failed] = events(ctx, "model.generate.failed")
    assert failed.details["allowed_seq"] == events(ctx, "model.generate")[-1].seq
    from appliance.gate.outcomes import in_flight

    assert in_flight(ctx) == []
