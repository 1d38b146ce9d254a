"""A document under construction, with exact gold spans, and the validator the tests use.

Text is appended piece by piece: a plain string is literal text, a ``(label, value)`` pair is an
entity, ``("NEG", phrase)`` is a hard negative (literal text, counted). Offsets are computed as
the pieces go in, so ``text[start:end] == value`` holds by construction; ``finish`` re-checks it
after any casing change, which is applied character by character so that no offset moves.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

LABELS = frozenset({
    "PERSON", "LOCATION", "ORGANIZATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
    "DATE_TIME", "URL", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
})
Piece = str | tuple[str, str] | Iterable[Any]
_BAD_EDGE = " \t\n,;:!?"


class InvalidRecord(ValueError):
    """A corpus record whose spans do not match its text."""


def _map_case(text: str, mode: str) -> str:
    """Lower or upper case without moving offsets: characters that would change length stay."""
    conv = str.lower if mode == "lower" else str.upper
    return "".join(conv(ch) if len(conv(ch)) == 1 else ch for ch in text)


class Doc:
    """Accumulates text and spans; ``finish`` returns the record."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._parts: list[str] = []
        self._spans: list[dict[str, Any]] = []
        self._pos = 0
        self.negatives = 0

    def add(self, *pieces: Piece) -> Doc:
        for piece in pieces:
            if isinstance(piece, str):
                self._literal(piece)
            elif isinstance(piece, tuple) and len(piece) == 2 and isinstance(piece[0], str) \
                    and isinstance(piece[1], str):
                label, value = piece
                if label == "NEG":
                    self.negatives += 1
                    self._literal(value)
                else:
                    self._entity(label, value)
            else:
                self.add(*piece)
        return self

    def line(self, *pieces: Piece) -> Doc:
        """Add the pieces and a newline."""
        return self.add(*pieces, "\n")

    def upper_heading(self, text: str) -> Doc:
        """A heading, in ALL CAPS one time in three."""
        return self.add(text.upper() if self.rng.random() < 0.33 else text)

    @property
    def length(self) -> int:
        return self._pos

    def _literal(self, text: str) -> None:
        self._parts.append(text)
        self._pos += len(text)

    def _entity(self, label: str, value: str) -> None:
        value = " ".join(value.split()) if "\n" not in value else value.strip()
        if label not in LABELS:
            raise InvalidRecord(f"unknown label {label!r}")
        self._spans.append({"start": self._pos, "end": self._pos + len(value), "label": label})
        self._literal(value)

    def finish(self, genre: str, case: str | None = None) -> dict[str, Any]:
        text = "".join(self._parts)
        values = [text[s["start"] : s["end"]] for s in self._spans]
        if case:
            text = _map_case(text, case)
            values = [_map_case(v, case) for v in values]
        text, shift = _strip_outer(text)
        spans = [{**s, "start": s["start"] - shift, "end": s["end"] - shift} for s in self._spans]
        record = {"text": text, "spans": spans, "genre": genre,
                  "hard_negative": self.negatives > 0}
        for span, value in zip(spans, values, strict=True):
            if text[span["start"] : span["end"]] != value:
                raise InvalidRecord(f"span {span} is {text[span['start']:span['end']]!r}, "
                                    f"expected {value!r}")
        validate_record(record)
        return record


def _strip_outer(text: str) -> tuple[str, int]:
    stripped = text.lstrip()
    return stripped.rstrip(), len(text) - len(stripped)


def validate_record(record: dict[str, Any]) -> None:
    """Raise ``InvalidRecord`` unless every span lies inside the text, is non-empty, carries a
    known label, has no whitespace or clause punctuation at its edges, and overlaps no other."""
    text = record.get("text")
    spans = record.get("spans")
    if not isinstance(text, str) or not isinstance(spans, list):
        raise InvalidRecord("a record needs a 'text' string and a 'spans' list")
    last_end = -1
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise InvalidRecord(f"span {span} outside text of length {len(text)}")
        if label not in LABELS:
            raise InvalidRecord(f"span {span}: unknown label {label!r}")
        value = text[start:end]
        if value[0] in _BAD_EDGE or value[-1] in _BAD_EDGE:
            raise InvalidRecord(f"span {span} has a loose edge: {value!r}")
        if start < last_end:
            raise InvalidRecord(f"span {span} overlaps the previous span")
        last_end = end
