"""The shared shape of the appliance's pattern recognizers: everything declared as class constants.

A subclass names ``ENTITY``, ``PATTERNS`` (Presidio ``Pattern`` objects) and ``CONTEXT`` (lower-case
words; the analyzer's context enhancer raises a match's score when one of them is near it), and
may add Presidio's hooks: ``validate_result`` (True lifts the score to 1.0, False drops the match:
only for strong checksums) or ``invalidate_result`` (True drops the match: for weak checks that
must not lift a score). Patterns run on the analyzer's normalised shadow text, so they need not
handle zero-width characters or non-ASCII digits themselves.

Presidio's hooks see only the matched text. A check that needs the words around a match (a card
number that fails its checksum but follows "my card number is") goes in ``refine_results``, which
both ``analyze`` (Presidio's path) and ``analyze_fast`` (the batch path) call on their results, so
the two stay equal. A result kept *because of* nearby words is built by ``context_gated``: it is
marked as already context-enhanced, so the analyzer's context enhancer does not count the same
words a second time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import regex
from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts

# A sentence ends at a line break, or at ". ! ?" before a capital: context never crosses one
# ("Card blocked. Order 4111111111111112" is an order number).
_SENTENCE_END = regex.compile(r"\n|[.!?]\s+(?=\p{Lu})")
_WORD = regex.compile(r"[^\W\d_]+")


class AppliancePatternRecognizer(PatternRecognizer):
    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []
    # Every pattern needs a digit: the analyzer skips the recognizer on text without one.
    NEEDS_DIGIT: ClassVar[bool] = True

    def __init__(self, supported_language: str = "en") -> None:
        if not self.ENTITY or not self.PATTERNS:
            raise TypeError(f"{type(self).__name__} must declare ENTITY and PATTERNS")
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            supported_language=supported_language,
            # Fresh Pattern objects per instance: Presidio caches the compiled regex on them.
            patterns=[Pattern(p.name, p.regex, p.score) for p in self.PATTERNS],
            context=list(self.CONTEXT),
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        return self.refine_results(text, super().analyze(text, entities, nlp_artifacts,
                                                         regex_flags))

    def analyze_fast(self, text: str) -> list[RecognizerResult]:
        """What ``analyze`` returns, without its per-call bookkeeping (timestamps, debug logs,
        regex explanations): the analyzer's batch path calls this once per recognizer per text.
        ``tests/redaction/test_recognizers.py`` checks that both give the same spans."""
        results = []
        name = type(self).__name__  # the name passed to Presidio in __init__
        metadata = {RecognizerResult.RECOGNIZER_NAME_KEY: name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
        patterns: list[Pattern] = self.patterns  # type: ignore[has-type]
        for pattern in patterns:
            compiled: Any = pattern.compiled_regex
            if compiled is None or pattern.compiled_with_flags != self._flags:
                compiled = regex.compile(pattern.regex, flags=self._flags)
                pattern.compiled_regex = compiled
                pattern.compiled_with_flags = self._flags  # type: ignore[assignment]
            for match in compiled.finditer(text):
                start, end = match.span()
                if start == end:
                    continue
                value, score = text[start:end], pattern.score
                valid = self.validate_result(value)
                if valid is not None:
                    score = EntityRecognizer.MAX_SCORE if valid else EntityRecognizer.MIN_SCORE
                if self.invalidate_result(value):
                    score = EntityRecognizer.MIN_SCORE
                if score > EntityRecognizer.MIN_SCORE:
                    explanation = AnalysisExplanation(name, score, pattern_name=pattern.name)
                    results.append(RecognizerResult(self.ENTITY, start, end, score, explanation,
                                                    dict(metadata)))
        return self.refine_results(text, EntityRecognizer.remove_duplicates(results))

    def refine_results(self, text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
        """Checks that need the text around each match; both analyze paths end here."""
        return results

    def context_gated(self, start: int, end: int, score: float,
                      why: str) -> RecognizerResult:
        """A result that exists only because a context word is near: ``why`` says which rule."""
        name = type(self).__name__
        explanation = AnalysisExplanation(name, score, pattern_name=why, textual_explanation=why)
        metadata = {RecognizerResult.RECOGNIZER_NAME_KEY: name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                    # The context was the gate: a boost for the same words would count them twice.
                    RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True}
        return RecognizerResult(self.ENTITY, start, end, score, explanation, metadata)

    @property
    def _flags(self) -> int:
        return int(self.global_regex_flags or 0)


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def words_before(text: str, start: int, count: int) -> list[str]:
    """The last ``count`` words (letters only, lower-cased) before ``start`` in its sentence."""
    head = text[max(0, start - 120) : start]
    ends = list(_SENTENCE_END.finditer(head))
    if ends:
        head = head[ends[-1].end() :]
    return [w.lower() for w in _WORD.findall(head)][-count:]
