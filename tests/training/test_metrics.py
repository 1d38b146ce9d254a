"""Model-card intervals: Wilson for accuracy, a bootstrap for F1, honest notes elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score

from appliance.training.metrics import (
    card_intervals,
    f1_from_confusion,
    interval_text,
    metric_intervals,
    wilson_interval,
)


def test_wilson_interval_on_four_of_four_is_wide() -> None:
    low, high = wilson_interval(4, 4)
    assert high == 1.0 and low == pytest.approx(0.5101, abs=1e-4)  # not "1.000"
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0


def test_f1_from_the_confusion_matrix_matches_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 3, 80), rng.integers(0, 3, 80)
    matrix = confusion_matrix(y_true, y_pred, labels=[0, 1, 2, 3])  # a class never seen
    for average in ("macro", "weighted"):
        expected = f1_score(y_true, y_pred, labels=[0, 1, 2, 3], average=average,
                            zero_division=0)
        assert f1_from_confusion(matrix, average) == pytest.approx(expected)


def test_every_metric_gets_n_and_an_interval_or_a_reason() -> None:
    matrix = [[10, 2, 1], [3, 9, 0], [1, 1, 13]]
    test = {"n": 40, "accuracy": 32 / 40, "macro_f1": 0.79, "weighted_f1": 0.8, "loss": 0.6,
            "confusion_matrix": {"labels": ["a", "b", "c"], "matrix": matrix}}
    found = metric_intervals(test)
    assert set(found) == {"accuracy", "macro_f1", "weighted_f1", "loss"}
    assert all(entry["n"] == 40 for entry in found.values())
    assert found["accuracy"]["method"] == "Wilson score, 95%"
    assert found["accuracy"]["low"] < 0.8 < found["accuracy"]["high"]
    point = f1_from_confusion(matrix, "macro")
    assert found["macro_f1"]["low"] < point < found["macro_f1"]["high"]
    assert found["macro_f1"]["method"].startswith("bootstrap, 2000 resamples")
    assert metric_intervals(test) == found  # seeded: the card reads the same on every view
    assert "per-example losses are not kept" in found["loss"]["note"]
    assert interval_text(0.8, found["accuracy"]).startswith("0.800 (95% CI 0.")


def test_a_tiny_test_set_says_so_for_f1() -> None:
    test = {"n": 4, "accuracy": 1.0, "macro_f1": 1.0,
            "confusion_matrix": {"labels": ["a", "b"], "matrix": [[2, 0], [0, 2]]}}
    found = metric_intervals(test)
    assert interval_text(1.0, found["accuracy"]) == \
        "1.000 (95% CI 0.510-1.000, Wilson score, n=4)"
    assert found["macro_f1"]["note"].startswith("n too small")


def test_language_model_cards_take_n_from_the_split() -> None:
    card = {"metrics": {"test": {"loss": 2.0, "perplexity": 7.4}},
            "split": {"datasets": {"ds_a": {"sizes": {"train": 80, "validation": 10,
                                                      "test": 10}}}}}
    found = card_intervals(card)
    assert found["perplexity"]["n"] == 10 and "note" in found["perplexity"]
