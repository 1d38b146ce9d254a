"""NER as a Presidio recognizer: the bundled model, a local Hugging Face model, or a spaCy pipeline.

``analyze`` serves Presidio's one-text-at-a-time interface; ``analyze_batch`` is what the appliance
calls: one model pass over many texts (dynamic padding, sliding windows only for long texts), and
texts that cannot hold a name (no two letters in a row) never reach the model at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from presidio_analyzer import AnalysisExplanation, EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from appliance.redaction.ner_model import ENTITY_TYPES, NerModel, NerSpan
from appliance.redaction.org_cues import apply_org_cues
from appliance.redaction.places import relabel_places

_WORDLIKE = re.compile(r"[^\W\d_]{2}")
# A name never spans a line break, a tab or a table cell; gold data and redaction agree.
_BREAKS = re.compile(r"\n|\t|\s\|\s")


_LOWERCASE_MIN_SCORE = 0.9
_WORD = re.compile(r"[^\W\d_]+")


def _is_cased(text: str) -> bool:
    words = _WORD.findall(text)
    capitalised = sum(1 for w in words if w[0].isupper())
    return len(words) >= 4 and capitalised >= max(2, 0.15 * len(words))


def _split_span(text: str, span: NerSpan) -> list[NerSpan]:
    pieces, cursor = [], span.start
    for m in _BREAKS.finditer(text, span.start, span.end):
        pieces.append((cursor, m.start()))
        cursor = m.end()
    pieces.append((cursor, span.end))
    out = []
    for start, end in pieces:
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not (text[end - 1].isalnum() or text[end - 1] in ".'"):
            end -= 1
        words = text[start:end].lower().split()
        if _WORDLIKE.search(text, start, end) and not all(w in STOP_WORDS for w in words):
            out.append(NerSpan(start, end, span.entity_type, span.score))
    return out


class NerRecognizer(EntityRecognizer):
    """PERSON, LOCATION and ORGANIZATION from a token-classification model, batched."""

    def __init__(self, backend: Any, min_score: float = 0.5,
                 entities: tuple[str, ...] = ENTITY_TYPES, name: str = "NerRecognizer") -> None:
        self.backend = backend  # NerModel, or SpacyNerBackend
        self.min_score = min_score
        self._label = name
        super().__init__(supported_entities=list(entities), name=name, supported_language="en")

    def load(self) -> None:  # the model is loaded by the factory, before the engine starts
        pass

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        return [r for r in self.analyze_batch([text])[0] if r.entity_type in entities]

    def analyze_batch(self, texts: list[str]) -> list[list[RecognizerResult]]:
        wanted = [i for i, t in enumerate(texts) if _WORDLIKE.search(t)]
        spans: list[list[NerSpan]] = [[] for _ in texts]
        for i, found in zip(wanted, self.backend.predict([texts[i] for i in wanted]), strict=True):
            pieces = [p for s in found for p in _split_span(texts[i], s)]
            if _is_cased(texts[i]):
                # The model never sees case; the text does. In text that capitalises names, an
                # all-lower-case span ("roundabout", "resident") must be a confident one: a name
                # written in lower case to slip past still scores as high as it would capitalised.
                pieces = [p for p in pieces if p.score >= _LOWERCASE_MIN_SCORE
                          or not texts[i][p.start : p.end].islower()]
            spans[i] = relabel_places(texts[i], apply_org_cues(texts[i], pieces))
        return [[self._result(s) for s in found
                 if s.score >= self.min_score and s.entity_type in self.supported_entities]
                for found in spans]

    def _result(self, span: NerSpan) -> RecognizerResult:
        name = self._label
        return RecognizerResult(
            entity_type=span.entity_type, start=span.start, end=span.end, score=span.score,
            analysis_explanation=AnalysisExplanation(recognizer=name, original_score=span.score),
            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: name,
                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id},
        )


class SpacyNerBackend:
    """A site's installed spaCy pipeline (a local path or an installed package name)."""

    _MAP = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION",
            "FAC": "LOCATION", "ORG": "ORGANIZATION"}

    def __init__(self, model: str | Path) -> None:
        import spacy

        # spacy.load never downloads: a missing pipeline is an OSError, reported by the factory.
        self.nlp = spacy.load(str(model), disable=["parser", "lemmatizer", "tagger"])

    def predict(self, texts: list[str]) -> list[list[NerSpan]]:
        return [[NerSpan(e.start_char, e.end_char, self._MAP[e.label_], 0.85)
                 for e in doc.ents if e.label_ in self._MAP]
                for doc in self.nlp.pipe(texts, batch_size=64)]


def build_ner_backend(backend: str, model_path: Path | None, quantize: bool = False,
                      device: str = "auto") -> Any:
    """The model behind ``settings.ner_backend``; ``None`` for ``"none"``."""
    from appliance.errors import ConfigurationError
    from appliance.redaction import ner_model

    try:
        if backend == "none":
            return None
        if backend == "bundled":
            return ner_model.load_bundled(model_path or ner_model.BUNDLED_DIR, quantize=quantize,
                                          device=device)
        if model_path is None:
            raise ConfigurationError(f"ner_backend '{backend}' needs ner_model_path")
        if backend == "hf":
            return ner_model.load_hf(model_path, quantize=quantize, device=device)
        if backend == "spacy":
            return SpacyNerBackend(model_path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot load the {backend} NER model: {exc}") from exc
    raise ConfigurationError(f"unknown ner_backend {backend!r}")


__all__ = ["NerModel", "NerRecognizer", "SpacyNerBackend", "build_ner_backend"]
