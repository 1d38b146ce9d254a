"""Review marks: each replacement's type and score, kept in the sealed report, shown to reviewers
beside the stored text, lowest-confidence first."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.datasets import review
from appliance.datasets.redact import REVIEW_LOWEST, ReviewQueue
from appliance.errors import AccessDenied
from appliance.redaction import PiiSpan, Redactor


def spans(*items: tuple[int, int, str, float]) -> list[PiiSpan]:
    return [PiiSpan(a, b, e, s) for a, b, e, s in items]


def test_marks_point_at_the_replacements_in_the_redacted_text() -> None:
    text = "Call Anna Smith on +44 20 7946 0958 today."
    found = spans((5, 15, "PERSON", 0.62), (19, 35, "PHONE_NUMBER", 1.0))
    result = Redactor(None).redact_batch([text], "text", spans=[found])[0]
    assert result.text == "Call <PERSON> on <PHONE_NUMBER> today."
    assert [(result.text[m.start : m.end], m.entity, m.score) for m in result.marks] == [
        ("<PERSON>", "PERSON", 0.62), ("<PHONE_NUMBER>", "PHONE_NUMBER", 1.0)]


def test_a_mask_keeps_its_mark_and_joined_spans_get_the_lowest_score() -> None:
    text = "Anna Maria Smith wrote."
    found = spans((0, 10, "PERSON", 0.9), (11, 16, "PERSON", 0.55))  # Presidio joins these two
    masked = Redactor(None, default_operator="mask").redact_batch([text], "t", spans=[found])[0]
    assert masked.text == "**************** wrote."
    assert [(m.start, m.end, m.score) for m in masked.marks] == [(0, 16, 0.55)]


def test_the_queue_keeps_the_lowest_scores_in_bounded_memory() -> None:
    queue = ReviewQueue()
    for batch in range(10):
        marks = [[row, "text", 0, 0, 8, "PERSON", round(0.5 + (batch * 37 + row) % 50 / 100, 2)]
                 for row in range(100)]
        queue.add(batch * 100, marks)
    section = queue.to_dict()
    lowest = section["lowest"]
    assert len(lowest) == REVIEW_LOWEST
    scores = [m[6] for m in lowest]
    assert scores == sorted(scores) and scores[0] == 0.5
    every = sorted(round(0.5 + (b * 37 + r) % 50 / 100, 2) for b in range(10) for r in range(100))
    assert scores == every[:REVIEW_LOWEST]
    assert set(section["rows"]) == {str(r) for r in range(200)}  # the first rows, all marks


def _ingest(ctx: Any, who: Any, records: list[dict[str, Any]], **spec: Any) -> Any:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    spec = {"task": "classification", "text_field": "text", "label_field": "label", **spec}
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name="t", source_name="t.jsonl",
                            fmt="jsonl", spec=ds.parse_spec(spec))


RECORDS = [
    {"text": "Please call me on +44 20 7946 0958 about the refund.", "label": "a"},
    {"text": "Card 4111 1111 1111 1112 was blocked, my card number is wrong", "label": "b"},
    {"text": "Nothing personal in this one.", "label": "a"},
    {"text": "Met Dr. Amelia Hartington at the clinic on 3 March 2021.", "label": "b"},
]


def test_ingest_keeps_marks_in_the_report_and_the_queue_reads_them_in_context(
        ctx: Any, people: dict[str, Any]) -> None:
    result = _ingest(ctx, people["olivia"], RECORDS)
    report = ds.get_report(ctx, people["carol"], result.dataset_id)
    section = report["review"]
    stored = ds.sample_records(ctx, people["carol"], result.dataset_id, 10)
    assert set(section["rows"]) >= {"0", "1", "3"} and "2" not in section["rows"]
    for row, marks in section["rows"].items():
        text = stored[int(row)]["text"]
        for path, ordinal, start, end, entity, score in marks:
            assert (path, ordinal) == ("text", 0)
            assert text[start:end] == f"<{entity}>" and 0 < score <= 1
    assert "4111" not in json.dumps(report)  # marks are positions and scores, never a value

    queue = review.low_confidence(ctx, people["carol"], result.dataset_id, 50)
    assert [m.score for m in queue] == sorted(m.score for m in queue)
    card = next(m for m in queue if m.entity == "CREDIT_CARD")
    assert card.score == pytest.approx(0.6)  # fails the checksum: redacted on its context
    assert (card.before, card.replaced) == ("Card ", "<CREDIT_CARD>")
    for m in queue:
        assert stored[m.row]["text"] == m.before + m.replaced + m.after
    reads = ctx.audit.query(action="dataset.read_sample", limit=50)
    assert reads[-1].details["order"] == "low_confidence"
    assert list(reads[-1].details["rows"]) == sorted({m.row for m in queue})


def test_page_marks_skip_dropped_records_and_nested_fields(ctx: Any,
                                                           people: dict[str, Any]) -> None:
    records = [{"text": "Write to ana@example.org", "label": "a", "meta": {"note": "x"}},
               {"text": "Call +44 20 7946 0958 now", "label": "a"},
               {"text": "Mail bob@example.com", "label": "b",
                "meta": {"note": "phone +44 20 7946 0000"}}]
    result = _ingest(ctx, people["olivia"], records, operators={"EMAIL_ADDRESS": "drop_record"})
    report = ds.get_report(ctx, people["carol"], result.dataset_id)
    stored = ds.sample_records(ctx, people["carol"], result.dataset_id, 10)
    assert len(stored) == 1  # both records with an e-mail address were dropped
    marks = review.page_marks(report, 0, 1)[0]
    (start, end, entity, _score), = marks["text"]
    assert stored[0]["text"][start:end] == "<PHONE_NUMBER>" and entity == "PHONE_NUMBER"


def test_the_queue_needs_both_the_report_and_a_sample_read(ctx: Any,
                                                           people: dict[str, Any]) -> None:
    result = _ingest(ctx, people["olivia"], RECORDS)
    with pytest.raises(AccessDenied):
        review.low_confidence(ctx, people["adam"], result.dataset_id)
