"""Ingest errors and warnings that say what is wrong: the field, the reason, the count, the line."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.datasets.progress import IngestProgress
from appliance.errors import InvalidInput


def ingest(ctx: Any, who: Any, data: bytes | list[dict[str, Any]], name: str = "tickets",
           **spec: Any) -> ds.IngestResult:
    if not isinstance(data, bytes):
        data = b"".join(json.dumps(r).encode() + b"\n" for r in data)
    spec = {"task": "classification", "text_field": "text", "label_field": "category",
            "redact": False, **spec}
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name=name, source_name="tickets.jsonl",
                            fmt="jsonl", spec=ds.parse_spec(spec))


def stored(ctx: Any) -> int:
    return int(ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0])


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"body": f"b{i}", "category": "x"} for i in range(3)],
         "no records left: 3 of 3 records dropped: 3 missing 'text' (text field)"),
        ([{"text": f"t{i}", "category": None} for i in range(3)],
         "no records left: 3 of 3 records dropped: 3 missing 'category' (label field)"),
        ([{"text": "t0"}, {"category": "x"}, {"text": "t2", "category": ""}],
         "no records left: 3 of 3 records dropped: 2 missing 'category' (label field), "
         "1 missing 'text' (text field)"),
    ],
)
def test_nothing_left_names_the_field_and_counts(ctx: Any, people: dict,
                                                  records: list[dict[str, Any]],
                                                  message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ingest(ctx, people["olivia"], records)
    assert str(err.value) == message
    assert stored(ctx) == 0


def test_some_records_dropped_is_said_and_reported(ctx: Any, people: dict) -> None:
    records = [{"text": "a", "category": "x"}, {"text": "b", "category": None},
               {"text": "c", "category": "y"}, {"text": "a", "category": "x"}]
    result = ingest(ctx, people["olivia"], records)
    assert result.rows == 2
    expected = "2 of 4 records dropped: 1 missing 'category' (label field), 1 duplicate"
    assert result.warnings == [expected]
    report = ds.get_report(ctx, people["carol"], result.dataset_id)
    assert report["warnings"] == [expected]
    assert report["dropped_by_field"]["missing"] == {"category": 1}


def test_numeric_label_is_warned_and_stored_as_given(ctx: Any, people: dict) -> None:
    records = [{"text": f"t{i}", "category": i % 2} for i in range(12)]
    result = ingest(ctx, people["olivia"], records)
    assert result.warnings == [
        "label field 'category' holds numbers in 12 records; they are stored as given"]
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    labels = [r["category"] for r in ds.read_records(ctx, people["olivia"], result.dataset_id)]
    assert labels == [i % 2 for i in range(12)]


def test_truncated_json_names_the_files_line(ctx: Any, people: dict) -> None:
    lines = [json.dumps({"text": f"ticket {i}", "category": "x"}) for i in range(6)]
    data = "\n".join([*lines, '{"text": "the printer on floor 3 is broken", "categ'])
    with pytest.raises(InvalidInput) as err:
        ingest(ctx, people["olivia"], data.encode())
    assert str(err.value) == ("tickets.jsonl line 7: invalid JSON: Unterminated string "
                              "starting at (column 46)")
    assert stored(ctx) == 0


def test_reused_name_and_identical_content_are_warned(ctx: Any, people: dict) -> None:
    records = [{"text": "a", "category": "x"}]
    first = ingest(ctx, people["olivia"], records)
    assert first.warnings == []
    again = ingest(ctx, people["olivia"], records)
    assert again.warnings == [
        f"the name 'tickets' is already used by {first.dataset_id}",
        f"the same content is already stored as {first.dataset_id} ('tickets', PENDING_REVIEW)"]
    other = ingest(ctx, people["olivia"], [{"text": "b", "category": "x"}], name="other")
    assert other.warnings == []
    assert stored(ctx) == 3  # warned, still accepted
    ds.delete_dataset(ctx, people["carol"], first.dataset_id)
    third = ingest(ctx, people["olivia"], records, name="third")
    assert third.warnings == [
        f"the same content is already stored as {again.dataset_id} ('tickets', PENDING_REVIEW)"]


def test_progress_lines_are_periodic_and_plain() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = IngestProgress("t", 4_000_000, "lines", out=out, interval=10, clock=lambda: now[0])
    for _ in range(3):
        progress.read(1_000_000)
        progress.record()
        now[0] += 6
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines == ["ingest t: read 2 records, 3.0 MB of 4.0 MB (75%), 250.0 KB/s, 12 s",
                     "ingest t: read 3 records, 3.0 MB of 4.0 MB (75%), 166.7 KB/s, 18 s"]
    assert "\r" not in out.getvalue()


def test_redacted_names_in_a_field_of_names_are_counted() -> None:
    from appliance.datasets.redact import label_like_redactions

    fields = {"intent": {"values": 100}, "username": {"values": 100}, "note": {"values": 100}}
    names = {"intent": [100, 14],     # intent names, a few mistaken for PII: warn
             "username": [100, 97],   # nearly every value a person's name: that is PII
             "note": [20, 5]}         # free text, a few snake_case notes: not a field of names
    assert label_like_redactions(fields, names) == {"intent": 14}
    assert label_like_redactions(fields, {"intent": [100, 0]}) == {}


@pytest.mark.slow
def test_intent_names_changed_by_redaction_are_warned(ctx: Any, people: dict) -> None:
    """Issue 14's case: the NER reads a name inside an intent name (the GPU adapter read
    ``speak_to_agent`` so; the shipped one reads ``speak_to_maria``); the stored answer is
    ``speak_to_<PERSON>`` and a model would learn it. Kept, the names stay as given."""
    intents = ["speak_to_maria", "add_new_payee", "check_balance", "freeze_card",
               "card_declined", "close_account", "change_address", "order_status",
               "refund_status", "track_parcel"]
    records = [{"query": f"question {i} about my account", "intent": intent}
               for i in range(3) for intent in intents]
    spec = {"task": "sft", "prompt_field": "query", "response_field": "intent", "redact": True,
            "text_field": None, "label_field": None}
    result = ingest(ctx, people["olivia"], records, name="intents", **spec)
    changed = result.report.get("names_redacted", {}).get("intent", 0)
    assert 0 < changed < len(records) / 2
    assert any(w.startswith("response field 'intent' holds names such as categories")
               and f"changed {changed} of them" in w and w.endswith("--keep-field intent")
               for w in result.warnings), result.warnings
    kept = ingest(ctx, people["olivia"], records, name="intents-kept",
                  keep_fields=["intent"], **spec)
    assert "names_redacted" not in kept.report
    assert not any("holds names" in w for w in kept.warnings)
    answers = {r["intent"] for r in ds.sample_records(ctx, people["carol"], kept.dataset_id, 100)}
    assert answers == set(intents)
