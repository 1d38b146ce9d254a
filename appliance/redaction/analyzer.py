"""PII detection: a Presidio ``AnalyzerEngine``, offline, with the appliance's recognizer set.

``build_analyzer(settings)`` builds the engine (blank spaCy tokenizer, the YAML recognizer set,
the NER recognizer chosen by ``settings.ner_backend``) and wraps it in ``PiiAnalyzer``, whose
``analyze_batch`` is the fast path the ingest and the CLI use:

1. each text is normalised into a shadow copy (``normalize``) that obfuscation cannot hide from;
2. the pattern recognizers run on the shadow; only texts with a match that context could still
   change are tokenised for Presidio's context enhancer;
3. the NER model runs once over all texts that can hold a name;
4. each span is kept when its score reaches its entity's threshold (``thresholds:`` in
   recognizers.yaml; ``score_threshold`` for patterns and ``ner.min_score`` for NER otherwise);
5. overlaps are resolved recall first: overlapping spans, of any type and any detector, become
   ONE span over the union of their characters (no character a detector found is left in clear),
   typed by its best member (a pattern before NER: a checksum beats a guess; then the higher
   score);
6. the parts of one address become one LOCATION span (``join_addresses``), and every span is
   mapped back to the ORIGINAL text.

``engine`` is the plain Presidio engine on the same recognizers, for callers that want Presidio's
own one-text interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from appliance.redaction.ner_recognizer import NerRecognizer, build_ner_backend
from appliance.redaction.nlp_engine import BlankSpacyNlpEngine
from appliance.redaction.normalize import normalize
from appliance.redaction.registry import DEFAULT_CONFIG, RecognizerSet, load_recognizer_set


@dataclass(frozen=True)
class PiiSpan:
    start: int
    end: int
    entity_type: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "entity_type": self.entity_type,
                "score": round(self.score, 4)}


@dataclass(frozen=True)
class Detections:
    """One text's raw detector results (on its normalised shadow), before thresholds."""

    shadow: Any
    patterns: list[RecognizerResult]
    ner: list[RecognizerResult]


class PiiAnalyzer:
    def __init__(self, recognizer_set: RecognizerSet, ner: NerRecognizer | None = None) -> None:
        self.recognizer_set = recognizer_set
        self.ner = ner
        self.threshold = recognizer_set.score_threshold
        self.thresholds = recognizer_set.entity_thresholds(ner.supported_entities if ner else ())
        self._patterns = list(recognizer_set.recognizers)
        ctx = recognizer_set.context
        self._enhancer = LemmaContextAwareEnhancer(
            context_similarity_factor=ctx.get("boost", 0.35),
            min_score_with_context_similarity=ctx.get("min_score_with_context", 0.4),
            context_prefix_count=int(ctx.get("prefix_words", 6)),
            context_suffix_count=int(ctx.get("suffix_words", 2)),
            # Whole words: Presidio's default substring match lets "ss" fire inside "passport".
            context_matching_mode="whole_word",
        )
        self.nlp_engine = BlankSpacyNlpEngine()
        self.nlp_engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        for rec in [*self._patterns, *([ner] if ner else [])]:
            registry.add_recognizer(rec)
        self.engine = AnalyzerEngine(registry=registry, nlp_engine=self.nlp_engine,
                                     context_aware_enhancer=self._enhancer,
                                     default_score_threshold=self.threshold)

    @property
    def entities(self) -> list[str]:
        ner = list(self.ner.supported_entities) if self.ner else []
        return [*self.recognizer_set.pattern_entities, *ner]

    def analyze(self, text: str) -> list[PiiSpan]:
        return self.analyze_batch([text])[0]

    def analyze_batch(self, texts: list[str]) -> list[list[PiiSpan]]:
        return [self.resolve(d) for d in self.detect_batch(texts)]

    def detect_batch(self, texts: list[str]) -> list[Detections]:
        """Steps 1-3: every detector's raw results, before thresholds and overlap resolution."""
        shadows = [normalize(t) for t in texts]
        ner_hits: list[list[RecognizerResult]] = (
            self.ner.analyze_batch([s.text for s in shadows]) if self.ner else [[] for _ in texts])
        return [Detections(shadow, self._patterns_in(shadow.text), ner_found)
                for shadow, ner_found in zip(shadows, ner_hits, strict=True)]

    def resolve(self, found: Detections,
                thresholds: dict[str, float] | None = None) -> list[PiiSpan]:
        """Steps 4-5 on one text's detections, with these per-entity thresholds (default: the
        configured ones; ``pii evaluate --thresholds`` tries others on the same detections)."""
        limits = self.thresholds if thresholds is None else thresholds
        kept = join_addresses(found.shadow.text, _resolve(
            found.shadow.text, self._passing(found.patterns, limits),
            self._passing(found.ner, limits)))
        spans = []
        for r in kept:
            start, end = found.shadow.to_original(r.start, r.end)
            spans.append(PiiSpan(start, end, r.entity_type, float(r.score)))
        return spans

    def _patterns_in(self, text: str) -> list[RecognizerResult]:
        results: list[RecognizerResult] = []
        has_digit = any(ch.isdigit() for ch in text)
        for rec in self._patterns:
            if rec.NEEDS_DIGIT and not has_digit:
                continue  # a card, a phone, an IBAN... cannot hide in text with no digit
            results.extend(rec.analyze_fast(text))
        sure = [r for r in results if r.score >= 1.0]
        unsure = [r for r in results if r.score < 1.0]
        if unsure:
            # Tokenise only now, and only for matches whose score a context word can still raise
            # (the enhancer deep-copies what it is given).
            artifacts = self.nlp_engine.process_text(text, "en")
            unsure = self._enhancer.enhance_using_context(text, unsure, artifacts,
                                                          list(self._patterns))
        return sure + unsure  # thresholds are applied per entity by the caller

    def _passing(self, results: list[RecognizerResult],
                 limits: dict[str, float]) -> list[RecognizerResult]:
        return [r for r in results if r.score >= limits.get(r.entity_type, self.threshold)]


def _unions(results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Each group of overlapping spans becomes one span over their union, typed and scored by its
    best member (highest score, then the longer span)."""
    groups: list[list[RecognizerResult]] = []
    end = -1
    for r in sorted(results, key=lambda r: (r.start, r.end)):
        if groups and r.start < end:
            groups[-1].append(r)
            end = max(end, r.end)
        else:
            groups.append([r])
            end = r.end
    out = []
    for group in groups:
        best = min(group, key=lambda r: (-r.score, -(r.end - r.start)))
        start, stop = min(r.start for r in group), max(r.end for r in group)
        out.append(best if (start, stop) == (best.start, best.end) else RecognizerResult(
            best.entity_type, start, stop, best.score, best.analysis_explanation,
            best.recognition_metadata))
    return out


def _resolve(text: str, patterns: list[RecognizerResult],
             ner: list[RecognizerResult]) -> list[RecognizerResult]:
    """Non-overlapping spans, recall first: no character any detector kept is left in clear.

    Overlapping pattern matches become their union (best type); so do overlapping NER spans.
    A pattern's type beats the NER's on the characters it covers (a checksum beats a guess), and
    the NER span keeps the characters around it that no pattern covers, as its own pieces: a
    name span bridging a date and an NHS number must not turn the NHS number into DATE_TIME.
    """
    kept = _unions(patterns)
    for r in _unions(ner):
        covers = sorted((k for k in kept if k.start < r.end and r.start < k.end),
                        key=lambda k: k.start)
        cursor, kept_pieces = r.start, []  # the NER span minus the patterns' characters
        for k in covers:
            if k.start > cursor:
                kept_pieces.append((cursor, k.start))
            cursor = max(cursor, k.end)
        if cursor < r.end:
            kept_pieces.append((cursor, r.end))
        for start, end in kept_pieces:
            if not any(ch.isalnum() for ch in text[start:end]):
                continue  # ", " between a date and a number: nothing to hide
            kept.append(r if (start, end) == (r.start, r.end) else RecognizerResult(
                r.entity_type, start, end, r.score, r.analysis_explanation,
                r.recognition_metadata))
    return sorted(kept, key=lambda r: (r.start, r.end))


# Between two parts of one address: spaces, at most one comma, at most one line break.
_ADDRESS_GAP = regex.compile(r"[ \t]*,?[ \t]*(?:\r?\n[ \t]*)?")


def join_addresses(text: str, spans: list[RecognizerResult]) -> list[RecognizerResult]:
    """Neighbouring LOCATION spans that together hold a number (a street number, a postcode)
    become ONE span: "221B Baker Street / London NW1 6XE / United Kingdom" is one address, one
    placeholder, scored by its least sure part. A list of places ("Paris, London and Rome") has
    no number and stays apart."""
    out: list[RecognizerResult] = []
    run: list[RecognizerResult] = []

    def flush() -> None:
        if len(run) > 1 and any(ch.isdigit() for r in run for ch in text[r.start : r.end]):
            low = min(run, key=lambda r: r.score)
            out.append(RecognizerResult("LOCATION", run[0].start, run[-1].end, low.score,
                                        low.analysis_explanation, low.recognition_metadata))
        else:
            out.extend(run)
        run.clear()

    for r in spans:  # sorted by start, non-overlapping
        if r.entity_type == "LOCATION" and run \
                and _ADDRESS_GAP.fullmatch(text, run[-1].end, r.start):
            run.append(r)
            continue
        flush()
        if r.entity_type == "LOCATION":
            run.append(r)
        else:
            out.append(r)
    flush()
    return out


def build_analyzer(settings: Any = None, *, recognizers_yaml: Path = DEFAULT_CONFIG,
                   quantize: bool = False) -> PiiAnalyzer:
    """The analyzer for ``settings`` (``ner_backend``, ``ner_model_path``, ``ner_device``);
    defaults if None."""
    backend_name = getattr(settings, "ner_backend", "bundled")
    model_path = getattr(settings, "ner_model_path", None)
    recognizer_set = load_recognizer_set(recognizers_yaml)
    backend = build_ner_backend(backend_name, model_path, quantize=quantize,
                                device=getattr(settings, "ner_device", "auto"))
    ner = None
    if backend is not None:
        # The recognizer's own floor is the lowest NER threshold; the analyzer applies each one.
        limits = recognizer_set.entity_thresholds(recognizer_set.ner_entities)
        floor = min((limits[e] for e in recognizer_set.ner_entities), default=1.0)
        ner = NerRecognizer(backend, floor, recognizer_set.ner_entities)
    return PiiAnalyzer(recognizer_set, ner)
