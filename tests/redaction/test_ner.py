"""The bundled NER model: unseen names, batching, long texts, small weights."""

from __future__ import annotations

from pathlib import Path

from appliance.redaction.ner_model import BUNDLED_DIR
from tests.redaction.conftest import found

# Names from locales and a sentence shape the training generator never used.
UNSEEN = [
    ("Yesterday Oluwaseun Adebayo-Okafor met the auditors.", "Oluwaseun Adebayo-Okafor", "PERSON"),
    ("Please forward the minutes to Siobhán Ní Bhriain.", "Siobhán Ní Bhriain", "PERSON"),
    ("Minh Anh Trương signed on behalf of the buyer.", "Minh Anh Trương", "PERSON"),
    ("The courier left the parcel with Kwame Mensah at reception.", "Kwame Mensah", "PERSON"),
    ("Our Tromsø office reopens next week.", "Tromsø", "LOCATION"),
    ("She relocated from Valparaíso to Guadalajara.", "Guadalajara", "LOCATION"),
    ("Invoices go to Kestrel Ridge Analytics GmbH for approval.", "Kestrel Ridge Analytics GmbH",
     "ORGANIZATION"),
]


def test_unseen_names(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    hits = 0
    for text, value, entity in UNSEEN:
        got = found(full_analyzer, text)
        hits += any(entity == kind and (value in span or span in value) for span, kind in got)
    assert hits >= len(UNSEEN) - 1  # a model, not a lookup table: allow one miss in seven


def test_batch_equals_one_by_one(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    texts = [t for t, _, _ in UNSEEN] + ["", "12345", "no names here at all."]
    batch = full_analyzer.analyze_batch(texts)
    assert batch == [full_analyzer.analyze(t) for t in texts]


def test_long_text_uses_windows_and_finds_a_late_name(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    filler = "The quarterly figures were discussed in detail and nothing else happened. " * 40
    text = filler + "Afterwards Ingrid Bergström presented the budget."
    spans = full_analyzer.analyze(text)
    assert any(text[s.start : s.end].startswith("Ingrid") and s.entity_type == "PERSON"
               for s in spans)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


def test_texts_without_letters_skip_the_model(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    calls = []
    backend = full_analyzer.ner.backend
    original = backend.predict
    backend.predict = lambda texts: calls.append(list(texts)) or original(texts)
    try:
        full_analyzer.analyze_batch(["123-45-6789", "+44 20 7946 0958", "Anna"])
    finally:
        backend.predict = original
    assert calls == [["Anna"]]


def test_shipped_weights_are_small_and_reproducible_from_a_seed() -> None:
    import json

    files = {p.name: p.stat().st_size for p in Path(BUNDLED_DIR).iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "training.json"} <= set(files)
    assert sum(files.values()) < 8 * 1024 * 1024
    meta = json.loads((BUNDLED_DIR / "training.json").read_text())
    assert meta["seed"] == 0 and meta["labels"][0] == "O"


def test_a_site_can_select_a_local_hf_model(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from appliance.redaction import build_analyzer
    from appliance.redaction.ner_model import load_bundled

    bundled = load_bundled()
    bundled.model.save_pretrained(tmp_path / "hf")
    bundled.tokenizer.save_pretrained(tmp_path / "hf")
    analyzer = build_analyzer(SimpleNamespace(ner_backend="hf", ner_model_path=tmp_path / "hf"))
    text = "Please forward the minutes to Kwame Mensah."
    assert any(s.entity_type == "PERSON" for s in analyzer.analyze(text))


def test_a_site_can_select_an_installed_spacy_pipeline(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import spacy

    from appliance.redaction import build_analyzer

    spacy.blank("en").to_disk(tmp_path / "pipeline")  # no NER component: finds no names
    analyzer = build_analyzer(SimpleNamespace(ner_backend="spacy",
                                              ner_model_path=tmp_path / "pipeline"))
    assert [s.entity_type for s in analyzer.analyze("Kwame Mensah, kwame@example.com")] == [
        "EMAIL_ADDRESS"]
