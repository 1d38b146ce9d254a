"""The shared shape of the appliance's pattern recognizers: everything declared as class constants.

A subclass names ``ENTITY``, ``PATTERNS`` (Presidio ``Pattern`` objects) and ``CONTEXT`` (lower-case
words; the analyzer's context enhancer raises a match's score when one of them is near it), and
may add Presidio's hooks: ``validate_result`` (True lifts the score to 1.0, False drops the match:
only for strong checksums) or ``invalidate_result`` (True drops the match: for weak checks that
must not lift a score). Patterns run on the analyzer's normalised shadow text, so they need not
handle zero-width characters or non-ASCII digits themselves.
"""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer


class AppliancePatternRecognizer(PatternRecognizer):
    ENTITY: ClassVar[str] = ""
    PATTERNS: ClassVar[list[Pattern]] = []
    CONTEXT: ClassVar[list[str]] = []

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


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
