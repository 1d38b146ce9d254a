"""The three shapes of a preference record, checked the same way at ingest and in training.

- pairwise: a prompt, a ``chosen`` and a ``rejected`` answer (texts);
- ranked: a prompt, ``responses`` (a list of at least two texts) and a ``ranking``: indices into
  the responses, best first, each at most once: all of them (a permutation of 0..n-1) or the best
  few in order (a prefix of one, at least two entries);
- rated: a prompt, one ``response`` and its ``rating``: true/false, "up"/"down", or a number.

A prompt is a text or a list of ``{role, content}`` turns (roles system, user, assistant; every
content a non-empty text). The checks return facts, never values, so that what they say can go
into ingest notices and training errors alike (DESIGN.md: a refusal never quotes a record).

Pure Python: the training side imports it without torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeGuard

ROLES = ("system", "user", "assistant")
#: Ratings given as words (CSV holds every value as text, so "true" and "4" count too).
THUMBS = {"up": True, "down": False, "true": True, "false": False}
#: Upper ends of the usual rating scales, smallest first (0-1, 1-5 stars, 1-10 or 0-10, 0-100).
SCALE_TOPS = (1.0, 5.0, 10.0, 100.0)

Turn = dict[str, str]


def is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def prompt_turns(value: Any) -> list[Turn] | None:
    """The prompt as ``{role, content}`` turns (a text is one user turn); None when it is
    neither a non-empty text nor a non-empty list of well-formed turns."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value.strip() else None
    if not isinstance(value, list) or not value:
        return None
    turns: list[Turn] = []
    for turn in value:
        if not isinstance(turn, dict):
            return None
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES or not is_text(content):
            return None
        turns.append({"role": role, "content": content})
    return turns


def is_response_list(value: Any) -> TypeGuard[list[str]]:
    """At least two responses, each a non-empty text."""
    return isinstance(value, list) and len(value) >= 2 and all(is_text(v) for v in value)


def is_ranking(value: Any, n_responses: int) -> TypeGuard[list[int]]:
    """Best-first indices into ``n_responses`` responses: distinct, in range, at least two."""
    return (isinstance(value, list) and 2 <= len(value) <= n_responses
            and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n_responses
                    for i in value)
            and len(set(value)) == len(value))


def ranking_pairs(ranking: list[int]) -> list[tuple[int, int]]:
    """Every ``(better, worse)`` pair of the ranking: k entries give k(k-1)/2 pairs. Responses
    the ranking leaves out are paired with nothing: it says nothing of them."""
    return [(better, worse) for k, better in enumerate(ranking) for worse in ranking[k + 1:]]


def rating_value(value: Any) -> bool | float | None:
    """A thumb (True, False) or a score (a finite float); None when the rating is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in THUMBS:
            return THUMBS[word]
        try:
            number = float(word)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def rating_scale(scores: Iterable[float]) -> tuple[float, float]:
    """The scale a dataset's numeric ratings are on, inferred from their range.

    A negative score means a scale symmetric around 0 (-2..2). Otherwise the top is the
    smallest usual top at or above the highest score (1, 5, 10, 100; else the highest score),
    and the bottom 1 for 5- and 10-point scales whose scores are all at least 1 (stars), else 0.
    """
    values = list(scores)
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    if low < 0:
        bound = max(-low, high)
        return -bound, bound
    top = next((t for t in SCALE_TOPS if high <= t), high)
    bottom = 1.0 if top in (5.0, 10.0) and low >= 1 else 0.0
    return bottom, top


def is_desirable(rating: bool | float, threshold: float) -> bool:
    """A thumb as given; a score when it is at least ``threshold`` (the scale's midpoint)."""
    if isinstance(rating, bool):
        return rating
    return rating >= threshold
