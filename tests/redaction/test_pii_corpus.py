"""The training-corpus generator in tools/pii_corpus: reproducible, exact spans, varied."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tools.pii_corpus import InvalidRecord, generate, validate_record, write_jsonl
from tools.pii_corpus.genres import GENRES

N = 2000


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return list(generate(N, seed=0))


def test_same_seed_same_bytes_other_seed_other_text(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl.gz"
    write_jsonl(a, generate(300, seed=7))
    write_jsonl(b, generate(300, seed=7))
    write_jsonl(c, generate(300, seed=8))
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with gzip.open(a, "rt", encoding="utf-8") as src:
        rows = [json.loads(line) for line in src]
    assert len(rows) == 300 and set(rows[0]) >= {"text", "spans"}


def test_every_span_is_exact_and_tight(records: list[dict[str, Any]]) -> None:
    for rec in records:
        validate_record(rec)
        for span in rec["spans"]:
            value = rec["text"][span["start"] : span["end"]]
            assert value == value.strip() and value


def test_every_genre_appears(records: list[dict[str, Any]]) -> None:
    assert len(GENRES) >= 15
    counts = Counter(r["genre"] for r in records)
    assert set(counts) == set(GENRES), set(GENRES) - set(counts)


def test_hard_negatives_share(records: list[dict[str, Any]]) -> None:
    share = sum(r["hard_negative"] for r in records) / len(records)
    assert share >= 0.25
    empty = [r for r in records if not r["spans"]]
    assert len(empty) / len(records) >= 0.03  # documents with no personal data at all


def test_label_mix_and_lengths(records: list[dict[str, Any]]) -> None:
    labels = Counter(s["label"] for r in records for s in r["spans"])
    for label in ("PERSON", "ORGANIZATION", "LOCATION"):
        assert labels[label] >= N // 2, labels
    for label in ("EMAIL_ADDRESS", "PHONE_NUMBER", "DATE_TIME", "CREDIT_CARD", "URL"):
        assert labels[label] > 0, label
    words = [len(r["text"].split()) for r in records]
    assert min(words) <= 3 and max(words) >= 100


def test_casing_noise_and_name_roles(records: list[dict[str, Any]]) -> None:
    texts = [r["text"] for r in records]
    assert any(t == t.lower() and r["spans"] for t, r in zip(texts, records, strict=True))
    assert any("Present: " in t or "Attendees: " in t for t in texts)
    assert any(" is located at " in t or " is based at " in t for t in texts)
    multiline_addr = [s for r in records for s in r["spans"] if s["label"] == "LOCATION"
                      and "\n" in r["text"][s["start"] : s["end"]]]
    assert multiline_addr  # a whole address is one span, even over several lines


@pytest.mark.parametrize(("record", "why"), [
    ({"text": "Hi Ann", "spans": [{"start": 3, "end": 9, "label": "PERSON"}]}, "outside"),
    ({"text": "Hi Ann", "spans": [{"start": 2, "end": 6, "label": "PERSON"}]}, "loose edge"),
    ({"text": "Hi Ann", "spans": [{"start": 3, "end": 6, "label": "NAME"}]}, "unknown label"),
    ({"text": "Ann Lee", "spans": [{"start": 0, "end": 7, "label": "PERSON"},
                                   {"start": 4, "end": 7, "label": "PERSON"}]}, "overlaps"),
    ({"text": "Hi", "spans": None}, "needs"),
])
def test_validator_rejects_bad_records(record: dict[str, Any], why: str) -> None:
    with pytest.raises(InvalidRecord, match=why):
        validate_record(record)


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        list(generate(-1, seed=0))
