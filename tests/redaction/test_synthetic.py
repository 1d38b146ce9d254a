"""The generator is seeded and its splits are disjoint; BIO alignment for training is right."""

from __future__ import annotations

import pytest

from appliance.redaction.synthetic import generate
from appliance.redaction.synthetic_templates import (
    HELDOUT_LOCALES,
    HELDOUT_POOLS,
    TRAIN_LOCALES,
    TRAIN_POOLS,
)


def test_same_seed_same_records() -> None:
    assert list(generate(20, 3)) == list(generate(20, 3))
    assert list(generate(20, 3)) != list(generate(20, 4))


def test_splits_share_no_template_and_no_locale() -> None:
    train = {t for pool in TRAIN_POOLS.values() for t in pool}
    held = {t for pool in HELDOUT_POOLS.values() for t in pool}
    assert not train & held
    assert not set(TRAIN_LOCALES) & set(HELDOUT_LOCALES)


def test_spans_point_at_their_values() -> None:
    for rec in generate(50, 1, "heldout"):
        for s in rec["spans"]:
            value = rec["text"][s["start"] : s["end"]]
            assert value and value == value.strip()


def test_bio_alignment() -> None:
    from appliance.redaction.ner_model import LABELS, load_tokenizer
    from appliance.redaction.train_ner import encode

    rec = {"text": "Ask Anna Berg at Acme Ltd in Oslo.",
           "spans": [{"start": 4, "end": 13, "label": "PERSON"},
                     {"start": 17, "end": 25, "label": "ORGANIZATION"},
                     {"start": 29, "end": 33, "label": "LOCATION"}]}
    enc = encode([rec], load_tokenizer(), 64)[0]
    tok = load_tokenizer().convert_ids_to_tokens(enc["input_ids"])
    tags = [LABELS[i] if i >= 0 else "-" for i in enc["labels"]]
    assert list(zip(tok, tags, strict=True)) == [
        ("[CLS]", "-"), ("ask", "O"), ("anna", "B-PERSON"), ("berg", "I-PERSON"), ("at", "O"),
        ("ac", "B-ORGANIZATION"), ("##me", "I-ORGANIZATION"), ("ltd", "I-ORGANIZATION"),
        ("in", "O"),
        ("oslo", "B-LOCATION"), (".", "O"), ("[SEP]", "-")]


@pytest.mark.slow
def test_training_command_runs_on_cpu(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from appliance.redaction.ner_model import load_bundled
    from appliance.redaction.train_ner import main

    out = tmp_path / "adapter"
    main(["--seed", "0", "--out", str(out), "--n", "24", "--epochs", "1", "--batch-size", "8",
          "--cpu"])
    meta = json.loads((out / "training.json").read_text())
    assert meta["device"] == "cpu" and meta["records"] == 24
    assert load_bundled(out).predict(["Anna Berg"])  # the written adapter loads
