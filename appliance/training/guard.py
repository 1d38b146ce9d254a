"""The output guard: generated text passes the PII analyzer before anyone sees it.

A model fine-tuned on redacted data can still write personal data: the base model learnt names and
addresses in pretraining, the analyzer missed a value at ingest, or the user's own prompt held one
that the model repeats. So every answer, batched or streamed, passes the same analyzer as an
ingest (one per process, built once: it takes seconds) and ``settings.generation_guard`` decides:

- ``redact`` (default): each span becomes the ingest's placeholder (``<EMAIL_ADDRESS>``);
- ``withhold``: an answer with any span is replaced by a notice naming the entity types found;
- ``off``: text passes unread (nothing is analyzed or counted).

What the guard found is reported as entity types and counts, never the text.

Approved answers pass unread. A model tuned on an SFT dataset whose response field was kept as
given (intent or category names: the ingest warns when redaction changes such names, and a
compliance officer approves the dataset) answers with those names; the analyzer reads some of
them as personal data (``speak_to_agent``: a person) and would turn a right answer into
``speak_to_<PERSON>``. An answer that is, stripped, exactly one of the model's approved answers
(:func:`approved_answers`, sealed with the model) is let through; any other text, including one
that merely contains an approved answer, is guarded as before.

Streams (:class:`StreamGuard`) hold text back until the analyzer has seen it whole. A model writes
an e-mail address a few characters per token; guarding each token alone would let every piece
through. Text is released only up to a cut that lies at least ``HOLD`` characters before the end
of what was generated so far, at a whitespace, and outside every span the analyzer finds in the
held text (read with the released text before it, for context words). A value that straddles a
cut would have to be longer than ``HOLD`` characters with no part of it recognised; the longest
patterns (IBANs, card and phone numbers, e-mail addresses) are shorter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.redaction.analyzer import PiiAnalyzer, PiiSpan

GuardMode = Literal["redact", "withhold", "off"]
MODES: tuple[str, ...] = ("redact", "withhold", "off")
#: Characters a stream holds back behind each cut (see the module docstring).
HOLD = 80
#: Characters of new text between two analyses of a stream (each analysis costs milliseconds).
STEP = 40
#: Released text read again before the held text, so context words still count.
CONTEXT = 64
#: Approved answers are names: at most this many distinct values of at most this many
#: characters (shorter than ``HOLD``, so a stream holds one back whole until its end).
MAX_APPROVED_ANSWERS, MAX_APPROVED_CHARS = 1000, 64


def approved_answers(records: Sequence[dict[str, Any]], field: str) -> list[str] | None:
    """The distinct stripped string values of a kept response field, or None when they are
    not names (too many distinct values, or one too long): free text gets no pass."""
    found: set[str] = set()
    for record in records:
        value = record.get(field)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        if len(value) > MAX_APPROVED_CHARS:
            return None
        found.add(value)
        if len(found) > MAX_APPROVED_ANSWERS:
            return None
    return sorted(found)


@dataclass(frozen=True)
class Guarded:
    """An answer as the caller may see it, and what the guard found in it."""

    text: str
    entities: dict[str, int] = field(default_factory=dict)
    withheld: bool = False


def withheld_notice(entities: dict[str, int]) -> str:
    """What a withheld answer says instead: the entity types, never a value."""
    kinds = ", ".join(sorted(entities))
    return (f"[answer withheld: the output guard found personal data in it ({kinds}); "
            "generation_guard is 'withhold']")


class OutputGuard:
    """The guard for one mode over the process's analyzer."""

    def __init__(self, mode: str, analyzer: PiiAnalyzer | None,
                 approved: frozenset[str] = frozenset()) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown guard mode {mode!r}; choose from {MODES}")
        if mode != "off" and analyzer is None:
            raise ValueError(f"guard mode {mode!r} needs an analyzer")
        self.mode = mode
        self.analyzer = analyzer
        self.approved = approved

    @classmethod
    def for_settings(cls, settings: Settings,
                     approved: frozenset[str] = frozenset()) -> OutputGuard:
        """The guard ``settings.generation_guard`` asks for; the analyzer is built once per
        process (the ingest's cache) and shared by every later call. ``approved``: the model's
        approved answers (see the module docstring)."""
        mode = settings.generation_guard
        if mode == "off":
            return cls(mode, None)
        from appliance.redaction.anonymizer import RedactorConfig, build_redactor

        analyzer = build_redactor(RedactorConfig.from_settings(settings)).analyzer
        return cls(mode, analyzer, approved)

    def is_approved(self, text: str) -> bool:
        return text.strip() in self.approved

    def check(self, texts: list[str]) -> list[Guarded]:
        """Each text as it may be shown, in order."""
        if self.analyzer is None or not texts:
            return [Guarded(t) for t in texts]
        read = [t for t in texts if not self.is_approved(t)]
        found = iter(self.analyzer.analyze_batch(read) if read else [])
        return [Guarded(text) if self.is_approved(text) else self._verdict(text, next(found))
                for text in texts]

    def stream(self) -> StreamGuard:
        return StreamGuard(self)

    def _verdict(self, text: str, spans: list[PiiSpan]) -> Guarded:
        if not spans:
            return Guarded(text)
        counts = _count(spans)
        if self.mode == "withhold":
            return Guarded(withheld_notice(counts), counts, withheld=True)
        return Guarded(replace_spans(text, spans), counts)


class StreamGuard:
    """Guards one streamed answer: :meth:`feed` it pieces, send what it returns."""

    def __init__(self, guard: OutputGuard) -> None:
        self.guard = guard
        self.entities: Counter[str] = Counter()
        self.withheld = False
        self._released = ""  # raw text already let through (its last CONTEXT characters matter)
        self._held = ""
        self._since_check = 0

    def feed(self, piece: str) -> str:
        """Add generated text; return the guarded text that may be sent now (maybe empty)."""
        if self.withheld:
            return ""
        if self.guard.analyzer is None:
            return piece
        self._held += piece
        self._since_check += len(piece)
        if len(self._held) < HOLD + STEP or self._since_check < STEP:
            return ""
        self._since_check = 0
        spans = self._spans()
        if spans and self.guard.mode == "withhold":
            self._withhold(spans)
            return ""
        cut = _cut(self._held, spans, len(self._held) - HOLD)
        if cut <= 0:
            return ""
        return self._release(cut, [s for s in spans if s.end <= cut])

    def finish(self) -> str:
        """The end of the answer: the rest of the held text, guarded."""
        if self.withheld or not self._held:
            return ""
        if self.guard.analyzer is None or (not self._released
                                           and self.guard.is_approved(self._held)):
            rest, self._held = self._held, ""
            self._released += rest
            return rest
        spans = self._spans()
        if spans and self.guard.mode == "withhold":
            self._withhold(spans)
            return ""
        return self._release(len(self._held), spans)

    @property
    def notice(self) -> str:
        return withheld_notice(dict(self.entities))

    def _spans(self) -> list[PiiSpan]:
        """Spans of the held text, read after the end of the released text, in held offsets;
        one that began in the released text is clipped to its held part."""
        from appliance.redaction.analyzer import PiiSpan

        context = self._released[-CONTEXT:]
        assert self.guard.analyzer is not None
        [found] = self.guard.analyzer.analyze_batch([context + self._held])
        offset = len(context)
        return [PiiSpan(max(0, s.start - offset), s.end - offset, s.entity_type, s.score)
                for s in found if s.end > offset]

    def _release(self, cut: int, spans: list[PiiSpan]) -> str:
        raw, self._held = self._held[:cut], self._held[cut:]
        self._released += raw
        self.entities.update(_count(spans))
        return replace_spans(raw, spans)

    def _withhold(self, spans: list[PiiSpan]) -> None:
        self.withheld = True
        self.entities.update(_count(spans))
        self._held = ""


def replace_spans(text: str, spans: list[PiiSpan]) -> str:
    """Each span replaced by ``<ENTITY_TYPE>``, the ingest's placeholder (spans do not overlap:
    the analyzer resolves overlaps)."""
    out = text
    for span in sorted(spans, key=lambda s: s.start, reverse=True):
        out = out[: span.start] + f"<{span.entity_type}>" + out[span.end :]
    return out


def _cut(text: str, spans: list[PiiSpan], limit: int) -> int:
    """The last position at most ``limit`` that follows whitespace and lies in no span; 0 if
    there is none."""
    for position in range(min(limit, len(text)), 0, -1):
        if not text[position - 1].isspace():
            continue
        if any(s.start < position < s.end for s in spans):
            continue
        return position
    return 0


def _count(spans: list[PiiSpan]) -> dict[str, int]:
    return dict(Counter(s.entity_type for s in spans))
