"""The quality targets on the committed held-out set (templates and locales never trained on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.redaction import evaluate

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "pii_heldout.jsonl"
NER = {"PERSON": 0.90, "LOCATION": 0.80, "ORGANIZATION": 0.80}


@pytest.mark.slow
def test_heldout_targets(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    table = evaluate(HELDOUT, analyzer=full_analyzer).to_dict()
    for label, row in table["labels"].items():
        if row["gold"] == 0:
            continue
        assert row["recall"] >= NER.get(label, 0.95), (label, row)
    assert table["overall"]["precision"] >= 0.85, table["overall"]


def test_heldout_is_small_and_covers_every_entity() -> None:
    import json

    records = [json.loads(x) for x in HELDOUT.read_text("utf-8").splitlines()]
    assert 200 <= len(records) <= 600 and HELDOUT.stat().st_size < 512 * 1024
    labels = {s["label"] for r in records for s in r["spans"]}
    assert len(labels) == 17
