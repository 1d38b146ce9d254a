"""Approved answers: the output guard lets through exactly the names a compliance officer
approved as stored as given (an SFT response field kept at ingest), and nothing else.

Issue 14's finding: a model tuned to answer with intent names said ``add_new_payee``, and the
guard's analyzer, reading ``payee`` as a person, showed its user ``add_new_<PERSON>``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from appliance.training.guard import (
    MAX_APPROVED_ANSWERS,
    MAX_APPROVED_CHARS,
    OutputGuard,
    approved_answers,
)
from tests.training.parrot_model import PII_ANSWER, PII_FRAGMENTS


@pytest.fixture(scope="module")
def analyzer() -> Any:
    from appliance.redaction.anonymizer import RedactorConfig, build_redactor

    return build_redactor(RedactorConfig()).analyzer


def test_an_approved_answer_passes_and_nothing_else_does(analyzer: Any) -> None:
    # the approved "name" is written to be caught by the patterns, so that a pass is visible
    guard = OutputGuard("redact", analyzer, frozenset({PII_ANSWER}))
    exact, padded, longer = guard.check([PII_ANSWER, f"  {PII_ANSWER}\n", f"{PII_ANSWER} more"])
    assert exact.text == PII_ANSWER and exact.entities == {}
    assert padded.text == f"  {PII_ANSWER}\n"
    assert not any(f in longer.text for f in PII_FRAGMENTS) and longer.entities
    withhold = OutputGuard("withhold", analyzer, frozenset({"other"}))
    [answer] = withhold.check([PII_ANSWER])
    assert answer.withheld


def test_a_stream_releases_an_approved_answer_whole_at_its_end(analyzer: Any) -> None:
    guard = OutputGuard("redact", analyzer, frozenset({"call 212-555-0187"}))
    stream = guard.stream()
    assert [stream.feed(p) for p in ("call ", "212-", "555-", "0187")] == ["", "", "", ""]
    assert stream.finish() == "call 212-555-0187"
    other = guard.stream()
    sent = "".join(other.feed(p) for p in ("call ", "212-", "555-", "0188")) + other.finish()
    assert "0188" not in sent and other.entities


def test_only_names_are_approved() -> None:
    records = [{"a": " speak_to_agent "}, {"a": "add_new_payee"}, {"a": 3}, {"a": ""}, {}]
    assert approved_answers(records, "a") == ["add_new_payee", "speak_to_agent"]
    assert approved_answers([{"a": "x" * (MAX_APPROVED_CHARS + 1)}], "a") is None
    many = [{"a": f"intent_{i}"} for i in range(MAX_APPROVED_ANSWERS + 1)]
    assert approved_answers(many, "a") is None


def _train(ctx: Any, people: dict[str, Any], keep: bool) -> str:
    from appliance import datasets as ds
    from appliance.training import jobs, worker
    from tests.training.tiny_sft_home import BASE

    records = [{"prompt": f"question {i} about my card", "response": name}
               for i, name in enumerate(["freeze_card", "speak_to_agent", "add_new_payee"] * 8)]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    spec = {"task": "sft", "prompt_field": "prompt", "response_field": "response",
            "keep_fields": ["response"] if keep else []}
    ingested = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(data), name="intents",
                                source_name="intents.jsonl", fmt="jsonl",
                                spec=ds.parse_spec(spec))
    ds.approve_dataset(ctx, people["carol"], ingested.dataset_id, "intent names")
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "sft", "dataset_ids": [ingested.dataset_id], "base_model": BASE, "epochs": 1,
        "batch_size": 8, "eval_generations": 2, "memorization_records": 4})
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done and done.error
    return str(done.model_id)


@pytest.mark.slow
def test_a_model_tuned_on_kept_names_carries_them_sealed(ctx: Any, tmp_path: Path) -> None:
    from appliance.errors import AccessDenied
    from appliance.gate import read_object
    from appliance.training import chat, models
    from tests.training.tiny_sft_home import make_people, register_tiny_llama

    people = make_people(ctx)
    register_tiny_llama(ctx, tmp_path)
    model_id = _train(ctx, people, keep=True)
    info = models.load_model_info(ctx, model_id)
    guard_card = info.card["metrics"]["guard"]
    assert guard_card["approved_answers"] == 3
    sealed = read_object(ctx, people["olivia"], "model.generate", info.resource(),
                         guard_card["approved_answers_object_id"], "inference")
    assert json.loads(sealed) == ["add_new_payee", "freeze_card", "speak_to_agent"]
    with pytest.raises(AccessDenied):
        read_object(ctx, people["audra"], "model.generate", info.resource(),
                    guard_card["approved_answers_object_id"], "inference")
    database = (ctx.settings.home / "appliance.db").read_bytes()
    assert b"speak_to_agent" not in database and b"add_new_payee" not in database

    chat.forget_models()
    chat.generate(ctx, people["olivia"], model_id, ["question 1 about my card"],
                  chat.make_options(max_new_tokens=4))
    reads = [e for e in ctx.audit.query(action="model.generate", limit=100)
             if e.details.get("call") == "guard"]
    assert len(reads) == 1 and reads[0].decision == "allow"
    chat.generate(ctx, people["olivia"], model_id, ["question 2 about my card"],
                  chat.make_options(max_new_tokens=4))
    again = [e for e in ctx.audit.query(action="model.generate", limit=100)
             if e.details.get("call") == "guard"]
    assert len(again) == 1  # decrypted once per process, like the weights
    chat.forget_models()

    redacted = _train(ctx, people, keep=False)
    assert "guard" not in models.load_model_info(ctx, redacted).card["metrics"]
