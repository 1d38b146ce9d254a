"""Scores for generated text against references: exact match, ROUGE-L and chrF.

- Exact match, for short answers such as categories: both sides normalised (stripped,
  case-folded, whitespace collapsed, trailing punctuation removed), then compared whole; the
  share of examples that match.
- ROUGE-L (Lin, 2004), for free text: the F-measure of the longest common subsequence of words,
  from Google's ``rouge-score`` package, averaged over examples. Its stock tokenizer keeps only
  ``[a-z0-9]`` and so scores any non-Latin text 0; words here are Unicode word characters,
  case-folded.
- chrF (Popovic, 2015), for free text and morphology-rich languages: the character n-gram F-score
  (chrF2, n up to 6) of ``sacrebleu``, computed over the whole corpus as sacrebleu reports it,
  divided by 100 so every score on a model card reads on the same 0-1 scale.

All three are 0 to 1, higher is better; ``n`` is the number of examples scored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"\w+")


def normalise_answer(text: str) -> str:
    """``"  Card_Arrival. "`` -> ``"card_arrival"``: what exact match compares."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
    while text and unicodedata.category(text[-1]).startswith("P") and text[-1] not in "_)]}":
        text = text[:-1].rstrip()
    return text


def exact_matches(predictions: Sequence[str], references: Sequence[str]) -> list[bool]:
    return [
        normalise_answer(p) == normalise_answer(r)
        for p, r in zip(predictions, references, strict=True)
    ]


class _UnicodeWords:
    """A tokenizer for ``rouge_score``: case-folded Unicode words."""

    def tokenize(self, text: str) -> list[str]:
        return _WORDS.findall(text.casefold())


def rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_UnicodeWords())
    scores = [
        scorer.score(r, p)["rougeL"].fmeasure
        for p, r in zip(predictions, references, strict=True)
    ]
    return float(sum(scores) / len(scores)) if scores else 0.0


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    if not predictions:
        return 0.0
    score = sacrebleu.CHRF().corpus_score(list(predictions), [list(references)]).score
    return float(score) / 100.0


def generation_scores(predictions: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """``{"n", "exact_match", "rouge_l", "chrf"}`` for one model's answers."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    matches = exact_matches(predictions, references)
    return {
        "n": len(matches),
        "exact_match": sum(matches) / len(matches) if matches else 0.0,
        "rouge_l": rouge_l(predictions, references),
        "chrf": chrf(predictions, references),
    }
