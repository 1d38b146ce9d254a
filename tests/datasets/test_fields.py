"""Default closed: every field not kept is redacted, named or not; the report lists every field.

The scenario of issue 13: a classification upload whose records also carry ``customer_email`` and
``note`` fields. Before, only the text field was redacted and the report said "0 records with PII".
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.datasets.fields import collect_leaves, is_covered, rename_keys

EMAIL, NAME, PHONE, CARD = ("maria.gonzalez@example.com", "Maria Gonzalez", "+1 (415) 555-0134",
                            "4111 1111 1111 1111")
PII = (EMAIL, NAME, PHONE, CARD, "Gonzalez", "555-0134")
EXTRA = [{"text": f"my invoice {i} is wrong", "category": "billing", "customer_email": EMAIL,
          "note": f"call {NAME} at {PHONE}, card {CARD}"} for i in range(3)]


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def ingest(ctx: Any, who: Any, records: list[dict[str, Any]], **spec: Any) -> ds.IngestResult:
    data = _jsonl(records)
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name=spec.pop("name", "extra"),
                            source_name="extra.jsonl", fmt="jsonl", spec=ds.parse_spec(spec))


def sample_text(ctx: Any, people: dict, dataset_id: str) -> str:
    """What a reviewer reads, through the gate."""
    return json.dumps(ds.sample_records(ctx, people["carol"], dataset_id, 100))


@pytest.fixture
def patterns_only(ctx: Any) -> Any:
    """The real analyzer without the NER model: e-mails, phones and cards, fast."""
    ctx.settings = ctx.settings.model_copy(update={"ner_backend": "none"})
    return ctx


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classification", "raw"])
def test_fields_outside_the_text_field_are_redacted(ctx: Any, people: dict, task: str) -> None:
    spec = ({"task": "classification", "text_field": "text", "label_field": "category"}
            if task == "classification" else {"task": "raw"})
    result = ingest(ctx, people["olivia"], EXTRA, **spec)
    stored = sample_text(ctx, people, result.dataset_id)
    assert [v for v in PII if v in stored] == []
    assert json.loads(stored)[0]["customer_email"] == "<EMAIL_ADDRESS>"
    report = ds.get_report(ctx, people["carol"], result.dataset_id)
    fields = report["fields"]
    assert fields["customer_email"] == {"action": "redacted", "values": 3, "values_with_pii": 3,
                                        "entities": {"EMAIL_ADDRESS": 3}}
    assert fields["note"]["action"] == "redacted" and fields["note"]["values_with_pii"] == 3
    assert {"PERSON", "PHONE_NUMBER", "CREDIT_CARD"} <= set(fields["note"]["entities"])
    assert fields["text"] == {"action": "redacted", "values": 3, "values_with_pii": 0,
                              "entities": {}}
    label_action = "kept" if task == "classification" else "redacted"
    assert fields["category"]["action"] == label_action
    assert report["records_touched"] == 3
    text = json.dumps(report)
    assert [v for v in PII if v in text] == []  # the report holds counts and names only


def test_kept_field_that_looks_like_pii_is_flagged_and_kept(patterns_only: Any,
                                                            people: dict) -> None:
    records = [{"text": "refund please", "label": "billing", "account": EMAIL, "id": i}
               for i in range(4)]
    result = ingest(patterns_only, people["olivia"], records, task="classification",
                    text_field="text", label_field="label", keep_fields=["account", "id"])
    assert result.report["fields"]["account"] == {
        "action": "kept", "values": 4, "values_with_pii": 4, "entities": {"EMAIL_ADDRESS": 4}}
    assert result.report["kept_with_pii"] == {"account": 4}
    assert any("kept field 'account' has 4 values that look like PII (EMAIL_ADDRESS 4)" in w
               for w in result.warnings)
    assert EMAIL not in json.dumps(result.report)
    stored = json.loads(sample_text(patterns_only, people, result.dataset_id))
    assert [r["account"] for r in stored] == [EMAIL] * 4  # kept means kept as given
    assert [r["id"] for r in stored] == [0, 1, 2, 3]


def test_nested_values_and_numbers_are_scanned(patterns_only: Any, people: dict) -> None:
    records = [{"text": "hello", "label": "a", "n": 7, "card": 4111111111111111,
                "customer": {"contacts": [EMAIL, {"phone": PHONE}], "age": 41},
                "tags": ["vip", f"mail {EMAIL}"]}]
    result = ingest(patterns_only, people["olivia"], records, task="classification",
                    text_field="text", label_field="label")
    stored = json.loads(sample_text(patterns_only, people, result.dataset_id))[0]
    assert stored["n"] == 7 and stored["customer"]["age"] == 41  # numbers without PII stay
    assert stored["card"] == "<CREDIT_CARD>"  # a number whose text is PII becomes the redaction
    assert stored["customer"]["contacts"] == ["<EMAIL_ADDRESS>", {"phone": "<PHONE_NUMBER>"}]
    assert stored["tags"] == ["vip", "mail <EMAIL_ADDRESS>"]
    fields = result.report["fields"]
    assert fields["customer.contacts"]["values_with_pii"] == 1
    assert fields["customer.contacts.phone"]["entities"] == {"PHONE_NUMBER": 1}
    assert fields["tags"] == {"action": "redacted", "values": 2, "values_with_pii": 1,
                              "entities": {"EMAIL_ADDRESS": 1}}
    assert fields["card"]["entities"] == {"CREDIT_CARD": 1}


def test_keys_that_hold_pii_are_redacted_in_records_and_report(patterns_only: Any,
                                                               people: dict) -> None:
    records = [{"text": "hi", "label": "a", "contacts": {EMAIL: "friend", "x@example.org": 2}}]
    result = ingest(patterns_only, people["olivia"], records, task="classification",
                    text_field="text", label_field="label")
    stored = sample_text(patterns_only, people, result.dataset_id)
    assert EMAIL not in stored and "x@example.org" not in stored
    assert json.loads(stored)[0]["contacts"] == {"<EMAIL_ADDRESS>": "friend",
                                                 "<EMAIL_ADDRESS> (2)": 2}
    assert result.report["fields"]["(field names)"]["values_with_pii"] == 2
    assert EMAIL not in json.dumps(result.report)


def test_report_lists_every_field_with_its_action(patterns_only: Any, people: dict) -> None:
    records = [{"text": "t", "label": "a", "id": "r1", "secret": "s", "free": "f"}]
    result = ingest(patterns_only, people["olivia"], records, task="classification",
                    text_field="text", label_field="label", keep_fields=["id"],
                    drop_fields=["secret"])
    actions = {k: v["action"] for k, v in result.report["fields"].items()}
    assert actions == {"text": "redacted", "label": "kept", "id": "kept", "free": "redacted",
                       "secret": "dropped"}
    assert result.report["fields"]["secret"]["values"] == 1


def test_pseudonyms_are_consistent_across_fields(patterns_only: Any, people: dict) -> None:
    records = [{"text": f"write to {EMAIL}", "label": "a", "customer_email": EMAIL},
               {"text": "write to other@example.org", "label": "b", "customer_email": EMAIL}]
    result = ingest(patterns_only, people["olivia"], records, task="classification",
                    text_field="text", label_field="label", default_operator="pseudonym")
    stored = json.loads(sample_text(patterns_only, people, result.dataset_id))
    assert stored[0]["text"] == "write to <EMAIL_ADDRESS_1>"
    assert [r["customer_email"] for r in stored] == ["<EMAIL_ADDRESS_1>"] * 2
    assert stored[1]["text"] == "write to <EMAIL_ADDRESS_2>"


def test_no_redact_lists_fields_as_given(ctx: Any, people: dict) -> None:
    result = ingest(ctx, people["olivia"], [{"text": "t", "label": "a", "note": "n"}],
                    task="classification", text_field="text", label_field="label",
                    redact=False)
    assert {k: v["action"] for k, v in result.report["fields"].items()} == {
        "label": "unredacted", "note": "unredacted", "text": "unredacted"}


def test_keeping_a_text_field_is_refused() -> None:
    with pytest.raises(Exception, match="fields both redacted and kept: text"):
        ds.parse_spec({"task": "classification", "text_field": "text", "label_field": "l",
                       "keep_fields": ["text"]})
    with pytest.raises(Exception, match="fields both redacted and kept: q"):
        ds.parse_spec({"task": "sft", "prompt_field": "q", "response_field": "a",
                       "keep_fields": ["q"]})


def test_an_sft_response_of_names_may_be_kept() -> None:
    """Intent or category names as the answer: kept as given (still scanned), not cleaned."""
    spec = ds.parse_spec({"task": "sft", "prompt_field": "q", "response_field": "a",
                          "keep_fields": ["a"]})
    assert spec.text_fields() == ["q"] and spec.kept_fields() == ["a"]
    assert spec.required_fields() == ["q", "a"]


def test_paths_and_leaves() -> None:
    assert is_covered("a.b.c", frozenset({"a.b"})) and not is_covered("a.bc", frozenset({"a.b"}))
    batch = [{"a": {"b": [1, "x", {"c": True}]}, "d": None}]
    leaves = collect_leaves(batch, frozenset({"d"}))
    assert {k: [leaf.value for leaf in v.leaves] for k, v in leaves.items()} == {"a.b": [1, "x"]}
    record: dict[str, Any] = {"k": {"x": 1, "y": 2}}
    rename_keys(record, frozenset(), frozenset({"k"}), {"x": "<E>", "y": "<E>"})
    assert record == {"k": {"<E>": 1, "<E> (2)": 2}}
