"""The NER decoder is recall first: entity mass beats a plurality "O"."""

from __future__ import annotations

import torch

from appliance.redaction.ner_model import NerModel

TAGS = [("O", None), ("B", "PERSON"), ("I", "PERSON"), ("B", "LOCATION"), ("I", "LOCATION")]


def _decoder(recall_first: bool) -> NerModel:
    model = NerModel.__new__(NerModel)
    model._tags, model._outside, model.recall_first = TAGS, 0, recall_first
    return model


TEXT = "met Ada Vance"
OFFSETS = [(0, 3), (4, 7), (8, 13)]
PROBS = torch.tensor([[0.97, 0.01, 0.01, 0.005, 0.005],
                      [0.40, 0.35, 0.15, 0.05, 0.05],    # O the likeliest, but 0.6 on entities
                      [0.10, 0.02, 0.85, 0.02, 0.01]])


def test_a_token_mostly_on_entity_labels_is_kept_with_its_entity_mass() -> None:
    [span] = _decoder(True)._decode(TEXT, OFFSETS, PROBS)
    assert (TEXT[span.start : span.end], span.entity_type) == ("Ada Vance", "PERSON")
    assert span.score == round((0.60 + 0.85) / 2, 4)


def test_argmax_decoding_loses_the_first_name() -> None:
    [span] = _decoder(False)._decode(TEXT, OFFSETS, PROBS)
    assert TEXT[span.start : span.end] == "Vance"


def test_a_confident_outside_token_stays_outside() -> None:
    probs = PROBS.clone()
    probs[1] = torch.tensor([0.55, 0.25, 0.10, 0.05, 0.05])  # 0.45 on entities: not enough
    [span] = _decoder(True)._decode(TEXT, OFFSETS, probs)
    assert TEXT[span.start : span.end] == "Vance"
