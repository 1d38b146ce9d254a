"""A campaign's results: progress, agreement between reviewers, per-model win rates.

Agreement is Cohen's kappa (Cohen 1960) over pairwise outcomes: for every item two reviewers
judged (neither skipped), and every pair of its candidates both judgements say something about,
each reviewer's outcome is one of "first better", "second better" or "neither" (both bad).
kappa = (p_o - p_e) / (1 - p_e), with p_e from each reviewer's own outcome frequencies; it is
undefined (None) when there are no such pairs or when chance agreement is already 1.

A model's win rate counts only pairs of candidates written by two different models: wins over
comparisons. Results hold counts and pseudonyms only, never a prompt or a candidate's text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from appliance.feedback import judging
from appliance.feedback.store import Assignment


def cohen_kappa(labels: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels, one (rater 1, rater 2) tuple per rated case."""
    n = len(labels)
    if n == 0:
        return None
    observed = sum(a == b for a, b in labels) / n
    first, second = Counter(a for a, _ in labels), Counter(b for _, b in labels)
    expected = sum(first[k] * second[k] for k in first.keys() | second.keys()) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


def paired_outcomes(assignments: Sequence[Assignment]) -> list[tuple[str, str]]:
    """(reviewer 1, reviewer 2) outcomes of every candidate pair of every doubly-judged item."""
    by_item: dict[str, list[Assignment]] = {}
    for a in assignments:
        if a.verdict and a.verdict != "skip":
            by_item.setdefault(a.item_id, []).append(a)
    labels: list[tuple[str, str]] = []
    for judged in by_item.values():
        if len(judged) < 2:
            continue
        one, two = judged[0], judged[1]
        count = len(one.candidate_models)
        for i in range(count):
            for j in range(i + 1, count):
                said = judging.outcome(one.verdict or "", one.ranking or [], i, j)
                other = judging.outcome(two.verdict or "", two.ranking or [], i, j)
                if said is not None and other is not None:
                    labels.append((said, other))
    return labels


def win_rates(assignments: Sequence[Assignment], models: Sequence[str]) -> list[dict[str, Any]]:
    wins: Counter[str] = Counter()
    games: Counter[str] = Counter()
    for a in assignments:
        if not a.verdict:
            continue
        for better, worse in judging.pairs(a.verdict, a.ranking or [], len(a.candidate_models)):
            winner, loser = a.candidate_models[better], a.candidate_models[worse]
            if winner == loser:
                continue
            wins[winner] += 1
            games[winner] += 1
            games[loser] += 1
    return [{"model": m, "wins": wins[m], "comparisons": games[m],
             "win_rate": wins[m] / games[m] if games[m] else None} for m in models]


def progress(assignments: Sequence[Assignment],
             pseudonyms: dict[str, str]) -> dict[str, Any]:
    verdicts = Counter(a.verdict or "pending" for a in assignments)
    per: dict[str, Counter[str]] = {}
    for a in assignments:
        per.setdefault(a.reviewer, Counter())["assigned"] += 1
        per[a.reviewer]["judged" if a.verdict and a.verdict != "skip" else
                        "skipped" if a.verdict == "skip" else "pending"] += 1
    return {
        "assignments": len(assignments),
        "done": len(assignments) - verdicts["pending"],
        "pending": verdicts["pending"],
        "verdicts": {v: verdicts[v] for v in judging.VERDICTS},
        "by_reviewer": [{"reviewer": pseudonyms.get(name, "rv_unknown"),
                         "assigned": c["assigned"], "judged": c["judged"],
                         "skipped": c["skipped"], "pending": c["pending"]}
                        for name, c in sorted(per.items(),
                                              key=lambda kv: pseudonyms.get(kv[0], ""))],
    }


def summarize(assignments: Sequence[Assignment], models: Sequence[str],
              pseudonyms: dict[str, str]) -> dict[str, Any]:
    """Progress, agreement and win rates; counts and pseudonyms only."""
    labels = paired_outcomes(assignments)
    doubly = {a.item_id for a in assignments if a.verdict and a.verdict != "skip"}
    judged_twice = sum(
        1 for item in doubly
        if sum(1 for a in assignments if a.item_id == item and a.verdict
               and a.verdict != "skip") >= 2)
    pairs = sum(len(judging.pairs(a.verdict, a.ranking or [], len(a.candidate_models)))
                for a in assignments if a.verdict)
    return {
        "progress": progress(assignments, pseudonyms),
        "agreement": {
            "items": judged_twice,
            "pairs": len(labels),
            "observed": sum(a == b for a, b in labels) / len(labels) if labels else None,
            "kappa": cohen_kappa(labels),
        },
        "win_rates": win_rates(assignments, models),
        "pairs": pairs,
    }
