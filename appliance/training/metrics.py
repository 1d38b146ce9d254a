"""Classification scores, computed with scikit-learn so they mean what its documentation says,
and the confidence intervals model cards show beside them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def classification_metrics(logits: Any, label_ids: Any, labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro and weighted P/R/F1, the per-class report and the confusion matrix."""
    # imported here: the console and the CLI use the intervals below without scikit-learn
    from sklearn.metrics import (
        accuracy_score,
        classification_report,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    y_pred = np.asarray(logits).argmax(axis=-1)
    y_true = np.asarray(label_ids)
    every = list(range(len(labels)))  # classes absent from this split still get a row
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y_true, y_pred)), "n": int(len(y_true))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=every, average=average, zero_division=0
        )
        out[f"{average}_precision"] = float(p)
        out[f"{average}_recall"] = float(r)
        out[f"{average}_f1"] = float(f)
    report = classification_report(
        y_true, y_pred, labels=every, target_names=labels, output_dict=True, zero_division=0
    )
    out["per_class"] = {
        name: {k: float(v) for k, v in report[name].items()} for name in labels if name in report
    }
    out["confusion_matrix"] = {
        "labels": labels,
        "matrix": confusion_matrix(y_true, y_pred, labels=every).tolist(),
    }
    return out


def preference_metrics(scores: Any) -> dict[str, Any]:
    """Held-out pairs scored ``[[chosen, rejected], ...]``: how often the chosen answer scores
    higher (strictly, as TRL counts its reward accuracy: a tie is a miss), the mean margin
    (chosen minus rejected), and the accuracy's Wilson 95% interval over the pairs."""
    pairs = np.asarray(scores, dtype=float).reshape(-1, 2)
    n = int(pairs.shape[0])
    if n == 0:
        return {"pairs": 0}
    margins = pairs[:, 0] - pairs[:, 1]
    wins = int((margins > 0).sum())
    low, high = wilson_interval(wins, n)
    return {
        "pairs": n,
        "n": n,
        "pairwise_accuracy": wins / n,
        "margin_mean": float(margins.mean()),
        "wilson_95": [low, high],
    }


def win_rate(own: Any, reference: Any) -> dict[str, Any]:
    """How often a tuned model's answer scores above its reference's on the same prompt, as a
    reward model judged them: a tie counts half (the usual pairwise win rate), with the Wilson
    95% interval over the prompts and both mean scores."""
    mine = np.asarray(own, dtype=float).reshape(-1)
    theirs = np.asarray(reference, dtype=float).reshape(-1)
    n = int(mine.shape[0])
    if n == 0:
        return {"prompts": 0}
    wins, ties = int((mine > theirs).sum()), int((mine == theirs).sum())
    low, high = wilson_interval(wins + 0.5 * ties, n)
    return {
        "prompts": n,
        "n": n,
        "win_rate": (wins + 0.5 * ties) / n,
        "wins": wins,
        "ties": ties,
        "wilson_95": [low, high],
        "reward_mean": float(mine.mean()),
        "reference_reward_mean": float(theirs.mean()),
    }


def rl_metrics(scores: Any) -> dict[str, Any]:
    """Held-out prompts scored ``[[policy reward, reference reward, KL], ...]`` (task ``rloo``):
    the win rate against the reference and the mean KL of the policy's answers (nats)."""
    rows = np.asarray(scores, dtype=float).reshape(-1, 3)
    found = win_rate(rows[:, 0], rows[:, 1])
    if rows.shape[0]:
        found["kl_mean"] = float(rows[:, 2].mean())
    return found


# -- uncertainty --------------------------------------------------------------------------------
#
# A score on a small test split says little: 4 of 4 right is "accuracy 1.000", and also
# consistent with a model that is right half the time. Every test metric on a model card comes
# with its test-set size and a 95% interval, computed when the card is shown (from the stored
# count and confusion matrix, so cards made before this need no retraining):
#
# - accuracy (and a preference model's pairwise accuracy: n held-out pairs) is a proportion of n
#   independent examples: the Wilson score interval, which stays
#   inside [0, 1] and is honest at 0 or n successes (where the normal approximation gives a
#   zero-width interval);
# - macro and weighted F1 are no proportions: a percentile bootstrap, resampling the test
#   examples (multinomially from the confusion matrix, which is what resampling the
#   (true, predicted) pairs amounts to) 2000 times with a fixed seed, so the card reads the same
#   on every view; below BOOTSTRAP_MIN_N examples the resamples repeat too few distinct splits to
#   mean anything, and the card says "n too small" instead;
# - loss and perplexity are means of per-example losses that are not kept: no interval, said so;
# - exact match of held-out generation (causal LMs) is a proportion of the examples scored
#   (``metrics.generation.n``, which ``eval_generations`` may make smaller than the test split):
#   a Wilson interval on that n, for the tuned model (``exact_match``) and for the base
#   (``base_exact_match``) answering the same prompts.

CONFIDENCE = 0.95
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
BOOTSTRAP_MIN_N = 30
BOOTSTRAP_RESAMPLES = 2000
PROPORTIONS = ("accuracy", "pairwise_accuracy", "reward_accuracy")
F1_LIKE = ("macro_f1", "weighted_f1")
NO_INTERVAL = ("loss", "perplexity")


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``successes / n`` (Wilson 1927)."""
    if n <= 0:
        raise ValueError("a proportion of no examples has no interval")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def f1_from_confusion(matrices: Any, average: str) -> Any:
    """Macro or weighted F1 of confusion matrices (``[..., true, predicted]``), as scikit-learn
    computes it with every label listed and ``zero_division=0``."""
    m = np.asarray(matrices, dtype=float)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    support, predicted = m.sum(axis=-1), m.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if average == "macro":
        return f1.mean(axis=-1)
    weights = support / np.maximum(support.sum(axis=-1, keepdims=True), 1)
    return (f1 * weights).sum(axis=-1)


def bootstrap_f1_interval(matrix: list[list[int]], average: str, *, seed: int = 0,
                          resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    counts = np.asarray(matrix, dtype=float)
    n = int(counts.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, (counts / n).ravel(), size=resamples).reshape(-1, *counts.shape)
    scores = f1_from_confusion(draws, average)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def metric_intervals(test: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """For each test metric present: ``{"n", "low", "high", "method"}``, or ``{"n", "note"}``
    where there is no interval to give (see the comment above)."""
    n = test.get("n")
    matrix = (test.get("confusion_matrix") or {}).get("matrix")
    out: dict[str, dict[str, Any]] = {}
    for key in (*PROPORTIONS, *F1_LIKE, *NO_INTERVAL):
        value = test.get(key)
        if not isinstance(value, int | float):
            continue
        entry: dict[str, Any] = {"n": n}
        if key in NO_INTERVAL:
            entry["note"] = "no interval: per-example losses are not kept"
        elif not isinstance(n, int) or n <= 0:
            entry["note"] = "no interval: the test-set size was not recorded"
        elif key in PROPORTIONS:
            low, high = wilson_interval(round(value * n), n)
            entry |= {"low": low, "high": high, "method": "Wilson score, 95%"}
        elif n < BOOTSTRAP_MIN_N or not matrix:
            entry["note"] = f"n too small for an interval (bootstrap needs {BOOTSTRAP_MIN_N}+)" \
                if matrix else "no interval: no confusion matrix was kept"
        else:
            low, high = bootstrap_f1_interval(matrix, key.split("_")[0])
            entry |= {"low": low, "high": high,
                      "method": f"bootstrap, {BOOTSTRAP_RESAMPLES} resamples, 95%"}
        out[key] = entry
    return out


def interval_text(value: float, entry: dict[str, Any]) -> str:
    """"0.750 (95% CI 0.301-0.954, Wilson score, n=4)", or the value with the note."""
    if "low" in entry:
        return (f"{value:.3f} (95% CI {entry['low']:.3f}-{entry['high']:.3f}, "
                f"{entry['method'].removesuffix(', 95%')}, n={entry['n']})")
    return f"{value:.3f} (n={entry['n']}; {entry['note']})"


def card_intervals(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:func:`metric_intervals` of a model card's test metrics; the test-set size comes from the
    card's split where the task's metrics do not count it (language-model losses). A causal
    LM's card adds ``exact_match`` and ``base_exact_match`` from its held-out generation."""
    metrics = card.get("metrics", {})
    test = dict(metrics.get("test", {}))
    if not isinstance(test.get("n"), int):
        sizes = [(d.get("sizes") or {}).get("test")
                 for d in card.get("split", {}).get("datasets", {}).values()]
        if sizes and all(isinstance(s, int) for s in sizes):
            test["n"] = sum(sizes)
    out = metric_intervals(test)
    generation = metrics.get("generation")
    if isinstance(generation, dict):
        for key, scores in (("exact_match", generation), ("base_exact_match",
                                                          generation.get("base"))):
            entry = _proportion_interval(scores or {}, "exact_match")
            if entry is not None:
                out[key] = entry
    return out


def _proportion_interval(scores: dict[str, Any], key: str) -> dict[str, Any] | None:
    value, n = scores.get(key), scores.get("n")
    if not isinstance(value, int | float):
        return None
    if not isinstance(n, int) or n <= 0:
        return {"n": n, "note": "no interval: the number of examples was not recorded"}
    low, high = wilson_interval(round(value * n), n)
    return {"n": n, "low": low, "high": high, "method": "Wilson score, 95%"}
