"""``appliance pii analyze|eval`` and a redacting ingest with keyed pseudonyms."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.cli.main import main


def test_pii_analyze_offsets_index_the_input(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = "Write to jane.doe@example.com or call +44 20 7946 0958."
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"text": text}) + "\n"))
    assert main(["--home", "/nonexistent-home", "pii", "analyze"]) == 0
    spans = json.loads(capsys.readouterr().out)["spans"]
    found = {s["entity_type"]: text[s["start"]:s["end"]] for s in spans}
    assert found["EMAIL_ADDRESS"] == "jane.doe@example.com"
    assert found["PHONE_NUMBER"].endswith("7946 0958")


def test_pii_eval_on_given_predictions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"text": "Call Ann now", "spans": [
        {"start": 5, "end": 8, "entity_type": "PERSON"}]}) + "\n")
    pred = tmp_path / "pred.jsonl"
    pred.write_text(json.dumps({"spans": [{"start": 5, "end": 8, "entity_type": "PERSON",
                                           "score": 0.9}]}) + "\n")
    assert main(["pii", "evaluate", str(gold), "--pred", str(pred), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert "PERSON" in json.dumps(table)


@pytest.mark.slow
def test_pseudonyms_are_stable_across_fields_and_records(ctx: Any, people: dict) -> None:
    records = [{"q": "My name is Margaret Thornbury.", "a": "Hello Margaret Thornbury!"},
               {"q": "Margaret Thornbury again, and Dwight Okonkwo-Reyes.", "a": "Noted."}]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    spec = ds.parse_spec({"task": "sft", "prompt_field": "q", "response_field": "a",
                          "default_operator": "pseudonym"})
    result = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(data), name="p",
                              source_name="p.jsonl", fmt="jsonl", spec=spec)
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    stored = list(ds.read_records(ctx, people["olivia"], result.dataset_id))
    assert "Thornbury" not in json.dumps(stored)
    first = stored[0]["q"].split("is ")[1].rstrip(".")
    assert first.startswith("<PERSON_")
    assert first in stored[0]["a"] and first in stored[1]["q"]
    assert stored[1]["q"].count("<PERSON_") == 2
