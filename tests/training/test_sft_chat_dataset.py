"""A chat dataset end to end: ingested with contents redacted (roles kept), approved, trained."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.errors import InvalidInput
from appliance.training import jobs, worker
from tests.training.tiny_models import make_tiny_llama

EMAIL, PHONE = "maria.gonzalez@example.com", "+1 (415) 555-0134"


def chat(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "messages": [
            {"role": "system", "content": "you can help"},
            {"role": "user", "content": f"my card was stolen {i % 10} write to {EMAIL}"},
            {"role": "assistant", "content": "block the card"},
            {"role": "user", "content": f"and call {PHONE} please"},
            {"role": "assistant", "content": "yes"},
        ],
    }


@pytest.fixture
def patterns_only(ctx: Any) -> Any:
    """The real analyzer without the NER model: e-mails and phones, fast."""
    ctx.settings = ctx.settings.model_copy(update={"ner_backend": "none"})
    return ctx


def ingest(ctx: Any, who: Any, records: list[dict[str, Any]], **spec: Any) -> ds.IngestResult:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name="chats", source_name="chats.jsonl",
                            fmt="jsonl", spec=ds.parse_spec({"task": "sft", **spec}))


def test_chat_dataset_is_redacted_in_its_contents_and_trains(
    patterns_only: Any, people: dict[str, Any], tmp_path: Path
) -> None:
    ctx = patterns_only
    result = ingest(ctx, people["olivia"], [chat(i) for i in range(40)],
                    messages_field="messages", keep_fields=["id"])
    stored = ds.sample_records(ctx, people["carol"], result.dataset_id, 100)
    text = json.dumps(stored)
    assert EMAIL not in text and "555-0134" not in text
    turns = stored[0]["messages"]
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user", "assistant"]
    assert "<EMAIL_ADDRESS>" in turns[1]["content"] and "<PHONE_NUMBER>" in turns[3]["content"]
    assert turns[2]["content"] == "block the card"
    fields = ds.get_report(ctx, people["carol"], result.dataset_id)["fields"]
    assert fields["messages.content"]["action"] == "redacted"
    assert fields["messages.content"]["values_with_pii"] == 80
    assert fields["messages.role"]["action"] == "kept"
    assert "role" not in json.dumps(ds.get_report(ctx, people["carol"],
                                                  result.dataset_id)["entities_by_field"])
    ds.approve_dataset(ctx, people["carol"], result.dataset_id, "fine")

    from appliance.training import registry

    base = make_tiny_llama(tmp_path / "tiny-llama")
    registry._insert(ctx, "tiny-llama", base, registry.directory_sha256(base))
    job = jobs.submit_job(ctx, people["olivia"], {
        "task": "sft", "dataset_ids": [result.dataset_id], "base_model": "tiny-llama",
        "epochs": 2, "learning_rate": 1e-2, "batch_size": 8, "memorization_records": 4,
    })
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    generation = done.metrics["generation"]
    assert generation["n"] == 4 and generation["base"]["n"] == 4
    # the card's examples are the dataset's redacted text
    # the card keeps them encrypted in the vault: the database holds no record text
    assert "examples" not in generation and generation["examples_count"] >= 1
    from appliance.training import models

    [first, *_] = models.read_generation_examples(ctx, people["olivia"], done.model_id)
    assert "<EMAIL_ADDRESS>" in first["prompt"] and EMAIL not in json.dumps(generation)
    assert "my card was stolen" not in (ctx.home / "appliance.db").read_text("latin-1")
    assert first["prompt"].startswith("system: you can help\nuser: my card was stolen")
    assert first["reference"] == "yes"


def test_chat_specs_are_checked() -> None:
    spec = ds.parse_spec({"task": "sft", "messages_field": "messages"})
    assert spec.kept_fields() == ["messages.role"] and spec.text_fields() == []
    assert "messages.content" in spec.named_fields() and "messages" in spec.required_fields()
    pair = ds.parse_spec({"task": "sft", "prompt_field": "q", "response_field": "a"})
    assert pair.text_fields() == ["q", "a"] and pair.kept_fields() == []
    for bad, message in (
        ({"task": "sft"}, "needs --prompt-field and --response-field, or --messages-field"),
        ({"task": "sft", "messages_field": "m", "prompt_field": "q"}, "takes no prompt"),
        ({"task": "sft", "messages_field": "m", "drop_fields": ["m"]}, "both dropped and used"),
        ({"task": "raw", "messages_field": "m", "text_field": "m"}, "cannot also be the text"),
    ):
        with pytest.raises(InvalidInput, match=message):
            ds.parse_spec(bad)
