"""Judgements: what a reviewer may answer, and what an answer means as pairs.

A reviewer sees the candidates under letters (A, B, C, ...) in the order shown to them and
answers with one verdict:

- ``rank``: every candidate once, best first (``B A C``);
- ``pick``: the best one (``B``): it beats each of the others (with two candidates, the better
  of the two);
- ``both_bad``: none is acceptable (no pair is learned from it);
- ``skip``: no judgement (the item counts as done for the reviewer, and for nothing else).

Letters are positions on the reviewer's screen; they are mapped back to candidate indices
through the order shown before anything is stored, so a stored ranking never depends on the
screen, and a reviewer never sees which model wrote which candidate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from appliance.errors import InvalidInput

VERDICTS = ("rank", "pick", "both_bad", "skip")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEPARATORS = re.compile(r"[\s,>]+")


def label(position: int) -> str:
    return LETTERS[position]


def parse_labels(text: str, count: int) -> list[int]:
    """Screen positions from letters (``"B A C"``, ``"B>A>C"``, ``"bac"``)."""
    cleaned = (text or "").strip().upper()
    parts = [p for p in _SEPARATORS.split(cleaned) if p]
    if len(parts) == 1 and len(parts[0]) > 1:
        parts = list(parts[0])
    positions = []
    for part in parts:
        if len(part) != 1 or part not in LETTERS[:count]:
            raise InvalidInput(f"{part!r:.20} is not one of the candidates "
                               f"{', '.join(LETTERS[:count])}")
        positions.append(LETTERS.index(part))
    return positions


def check_verdict(verdict: str, positions: Sequence[int], count: int) -> list[int]:
    """The screen positions of a valid answer, best first; :class:`InvalidInput` otherwise."""
    shown = ", ".join(LETTERS[:count])
    if verdict not in VERDICTS:
        raise InvalidInput(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r:.40}")
    if isinstance(positions, str | bytes) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in positions):
        raise InvalidInput("positions must be whole numbers (0 for A, 1 for B, ...)")
    chosen = list(positions)
    if any(not 0 <= p < count for p in chosen):
        raise InvalidInput(f"a judgement names only the candidates shown: {shown}")
    if verdict == "rank":
        if sorted(chosen) != list(range(count)):
            raise InvalidInput(f"a ranking lists every candidate ({shown}) once, best first; "
                               f"got {' '.join(LETTERS[p] for p in chosen) or 'nothing'}")
    elif verdict == "pick":
        if len(chosen) != 1:
            raise InvalidInput(f"pick names the one best candidate of {shown}")
    elif chosen:
        raise InvalidInput(f"{verdict} names no candidate")
    return chosen


def to_candidates(positions: Sequence[int], order: Sequence[int]) -> list[int]:
    """Screen positions to candidate indices, through the order this reviewer was shown."""
    return [order[p] for p in positions]


def pairs(verdict: str, ranking: Sequence[int], count: int) -> list[tuple[int, int]]:
    """(better, worse) candidate indices a judgement states."""
    if verdict == "rank":
        return [(ranking[i], ranking[j]) for i in range(len(ranking))
                for j in range(i + 1, len(ranking))]
    if verdict == "pick" and ranking:
        return [(ranking[0], other) for other in range(count) if other != ranking[0]]
    return []


def outcome(verdict: str, ranking: Sequence[int], first: int, second: int) -> str | None:
    """What a judgement says of one pair (``first`` < ``second``): ``"first"``, ``"second"``,
    ``"neither"`` (both bad), or None when it says nothing (a skip; a pick of a third)."""
    if verdict == "both_bad":
        return "neither"
    for better, worse in pairs(verdict, ranking, max(first, second, *ranking, 0) + 1):
        if (better, worse) == (first, second):
            return "first"
        if (better, worse) == (second, first):
            return "second"
    return None
