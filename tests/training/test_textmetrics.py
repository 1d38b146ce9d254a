"""Exact match, ROUGE-L and chrF of generated answers."""

from __future__ import annotations

import pytest

from appliance.training.textmetrics import (
    chrf,
    exact_matches,
    generation_scores,
    normalise_answer,
    rouge_l,
)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("card_arrival", "card_arrival"),
        ("  Card_Arrival. ", "card_arrival"),
        ("CARD   ARRIVAL!?", "card arrival"),
        ("lost\tcard\n", "lost card"),
        ("Ｃａｒｄ", "card"),  # full-width letters (NFKC)
        ("it is sunny...", "it is sunny"),
        ("refund (pending)", "refund (pending)"),  # a closing bracket is no trailing dot
        ("balance_", "balance_"),
        ("", ""),
    ],
)
def test_normalisation(text: str, normal: str) -> None:
    assert normalise_answer(text) == normal


def test_exact_match_compares_whole_normalised_answers() -> None:
    assert exact_matches(["Card_arrival.", "lost card", "card"],
                         ["card_arrival", "lost_card", "card arrival"]) == [True, False, False]


def test_rouge_l_counts_words_in_any_script() -> None:
    assert rouge_l(["the cat sat"], ["the cat sat"]) == 1.0
    assert rouge_l(["sat the cat"], ["the cat sat"]) == pytest.approx(2 / 3)
    assert rouge_l(["Привет мир"], ["привет мир"]) == 1.0  # the stock tokenizer gives 0
    assert rouge_l(["x"], ["y"]) == 0.0 and rouge_l([], []) == 0.0


def test_chrf_is_sacrebleu_s_corpus_score_on_a_0_to_1_scale() -> None:
    import sacrebleu

    hyps, refs = ["the card arrived", "lost it"], ["my card arrived", "i lost it"]
    assert chrf(hyps, refs) == pytest.approx(
        sacrebleu.CHRF().corpus_score(hyps, [refs]).score / 100)
    assert chrf(["abc"], ["abc"]) == 1.0 and chrf([], []) == 0.0


def test_generation_scores() -> None:
    scores = generation_scores(["card_arrival", "refund"], ["card_arrival", "lost_card"])
    assert scores["n"] == 2 and scores["exact_match"] == 0.5
    assert 0 < scores["rouge_l"] < 1 and 0 < scores["chrf"] < 1
    assert generation_scores([], []) == {"n": 0, "exact_match": 0.0, "rouge_l": 0.0,
                                         "chrf": 0.0}
    with pytest.raises(ValueError, match="1 predictions for 2 references"):
        generation_scores(["a"], ["a", "b"])
