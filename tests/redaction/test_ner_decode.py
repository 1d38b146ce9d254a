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


def test_batches_follow_a_token_budget_and_keep_padding_small() -> None:
    from appliance.redaction.ner_model import batches

    lengths = sorted([12] * 100 + [40] * 30 + [118] * 10)
    parts = batches(lengths, budget=2048)
    assert [i for p in parts for i in range(len(lengths))[p]] == list(range(len(lengths)))
    for part in parts:
        rows = lengths[part]
        assert len(rows) * max(rows) <= 2048  # the budget holds for every batch
    padded = sum(len(lengths[p]) * max(lengths[p]) for p in parts)
    assert padded <= 1.1 * sum(lengths)  # short rows are not padded to the long ones
    assert len(parts) <= 6  # and short rows still travel in large batches


def test_one_sequence_longer_than_the_budget_is_a_batch_of_its_own() -> None:
    from appliance.redaction.ner_model import batches

    assert batches([300], budget=256) == [slice(0, 1)]
    assert batches([], budget=256) == []
    assert batches([10, 300], budget=256) == [slice(0, 1), slice(1, 2)]
