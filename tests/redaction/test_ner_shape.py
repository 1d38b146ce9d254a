"""Word-shape features: classes read from the original text, the table's file, the model path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from appliance.redaction.ner_shape import (
    SHAPE_FILE,
    SHAPES,
    ShapeEmbedding,
    token_shapes,
    word_shape,
)


def _shape(text: str, word: str) -> str:
    start = text.index(word)
    return SHAPES[word_shape(text, start, start + len(word))]


def test_shapes_read_case_from_the_original_text() -> None:
    text = "Then Rose met ROSE and rose. McDonald 42 -- O'Neil über Łukasz 李"
    assert _shape(text, "Then") == "capitalised-initial"  # a sentence's first capital says little
    assert _shape(text, "Rose") == "capitalised"
    assert _shape(text, "ROSE") == "upper"
    assert _shape(text, "rose") == "lower"
    assert _shape(text, "McDonald") == "mixed"
    assert _shape(text, "42") == "digit"
    assert _shape(text, "--") == "punct"
    assert _shape(text, "über") == "lower"
    assert _shape(text, "Łukasz") == "capitalised"
    assert _shape(text, "李") == "uncased-letter"
    assert _shape("and. Nakamura", "Nakamura") == "capitalised-initial"  # after ". "
    assert _shape("Name:\nAnna", "Anna") == "capitalised-initial"


def test_every_piece_of_a_word_takes_the_words_shape() -> None:
    from appliance.redaction.ner_model import load_tokenizer

    text = "ask Okonkwo-Adeyemi today"
    enc = load_tokenizer()(text, add_special_tokens=False, return_offsets_mapping=True)
    shapes = token_shapes(text, enc["offset_mapping"])
    pieces = [(text[s:e], SHAPES[k]) for (s, e), k in zip(enc["offset_mapping"], shapes,
                                                          strict=True)]
    assert pieces[0] == ("ask", "lower") and pieces[-1] == ("today", "lower")
    assert {k for piece, k in pieces if piece.isalpha() and piece not in ("ask", "today")} == {
        "capitalised"}
    assert token_shapes(text, [(0, 0)]) == [0]  # special tokens: pad


def test_the_table_starts_at_zero_and_round_trips(tmp_path: Path) -> None:
    shape = ShapeEmbedding(8)
    words = torch.randn(2, 3, 8)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert torch.equal(shape(words, ids), words)  # untrained: changes nothing
    torch.nn.init.normal_(shape.table.weight)
    shape.save(tmp_path)
    again = ShapeEmbedding.load(tmp_path, 8)
    assert again is not None and torch.equal(again.table.weight, shape.table.weight)
    assert ShapeEmbedding.load(tmp_path / "none", 8) is None  # an adapter trained without


def test_a_table_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    save_file({"table.weight": torch.zeros(3, 8)}, str(tmp_path / SHAPE_FILE))
    with pytest.raises(ValueError, match="shape table"):
        ShapeEmbedding.load(tmp_path, 8)
    save_file({"other": torch.zeros(len(SHAPES), 8)}, str(tmp_path / SHAPE_FILE))
    with pytest.raises(ValueError, match="shape table"):
        ShapeEmbedding.load(tmp_path, 8)


def test_the_model_reads_the_shape_table() -> None:
    """A zero table gives the model's own answer; a table that pushes capitals moves it."""
    from appliance.redaction.ner_model import NerModel, load_bundled

    bundled = load_bundled()
    texts = ["please ask Kwame Mensah about the invoice from Acme Freight in Leeds.",
             "the rose garden is open on weekdays"]
    plain = bundled.predict(texts)
    zero = ShapeEmbedding(bundled.model.config.hidden_size)
    with_zero = NerModel(bundled.model, bundled.tokenizer, shape=zero).predict(texts)
    assert [[(s.start, s.end, s.entity_type) for s in t] for t in with_zero] == [
        [(s.start, s.end, s.entity_type) for s in t] for t in plain]
    loud = ShapeEmbedding(bundled.model.config.hidden_size)
    torch.nn.init.normal_(loud.table.weight, std=2.0)
    moved = NerModel(bundled.model, bundled.tokenizer, shape=loud).predict(texts)
    assert moved != plain
