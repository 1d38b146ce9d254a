"""The recognizer set, read from ``recognizers.yaml`` and validated before the engine starts.

A typo in the YAML must fail when the analyzer is built, with a message naming the entry, not
on the first record of an ingest (a recognizer silently missing is PII silently kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appliance.errors import ConfigurationError
from appliance.redaction.ner_model import ENTITY_TYPES
from appliance.redaction.recognizers import RECOGNIZERS, AppliancePatternRecognizer

DEFAULT_CONFIG = Path(__file__).resolve().parent / "recognizers.yaml"
_TOP_KEYS = {"version", "score_threshold", "context", "ner", "recognizers", "thresholds"}
_CONTEXT_KEYS = {"prefix_words", "suffix_words", "boost", "min_score_with_context"}


@dataclass(frozen=True)
class RecognizerSet:
    recognizers: tuple[AppliancePatternRecognizer, ...]
    score_threshold: float
    context: dict[str, float] = field(default_factory=dict)
    ner_entities: tuple[str, ...] = ENTITY_TYPES
    ner_min_score: float = 0.5
    thresholds: dict[str, float] = field(default_factory=dict)  # entity -> min score

    def entity_thresholds(self, ner_entities: Any = ()) -> dict[str, float]:
        """The min score of every entity: ``thresholds:``, else ``ner.min_score`` for the NER's
        entities (never below ``score_threshold``), else ``score_threshold``."""
        ner_default = max(self.ner_min_score, self.score_threshold)
        defaults = {e: self.score_threshold for e in self.pattern_entities}
        defaults.update({e: ner_default for e in ner_entities})
        return {**defaults, **self.thresholds}

    @property
    def pattern_entities(self) -> list[str]:
        return [r.supported_entities[0] for r in self.recognizers]


def _fail(path: Path, what: str) -> ConfigurationError:
    return ConfigurationError(f"invalid recognizer set {path}: {what}")


def _score(path: Path, name: str, value: Any) -> float:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _fail(path, f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _thresholds(path: Path, value: Any) -> dict[str, float]:
    """``thresholds: {ENTITY: score}``; an unknown entity is a typo that would silently fall back
    to the default threshold, so it is refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, f"thresholds must be a mapping of entity to score, got {value!r}")
    known = set(ENTITY_TYPES) | {cls.ENTITY for cls in RECOGNIZERS.values()}
    out = {}
    for entity, score in value.items():
        if entity not in known:
            raise _fail(path, f"thresholds: unknown entity {entity!r}; known: {sorted(known)}")
        if isinstance(score, bool):
            raise _fail(path, f"thresholds.{entity} must be a number between 0 and 1, "
                              f"got {score!r}")
        out[str(entity)] = _score(path, f"thresholds.{entity}", score)
    return out


def load_recognizer_set(path: Path = DEFAULT_CONFIG) -> RecognizerSet:
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(path, str(exc)) from exc
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise _fail(path, "expected a mapping with 'version: 1'")
    if unknown := set(doc) - _TOP_KEYS:
        raise _fail(path, f"unknown keys {sorted(unknown)}")
    context = doc.get("context") or {}
    if not isinstance(context, dict) or set(context) - _CONTEXT_KEYS:
        raise _fail(path, "context: expected a mapping of prefix_words, suffix_words, boost, "
                          "min_score_with_context")
    ner = doc.get("ner") or {}
    ner_entities = tuple(ner.get("entities", ENTITY_TYPES))
    if not set(ner_entities) <= set(ENTITY_TYPES):
        raise _fail(path, f"ner.entities must be among {list(ENTITY_TYPES)}, "
                          f"got {list(ner_entities)}")
    built: list[AppliancePatternRecognizer] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc.get("recognizers") or []):
        if not isinstance(entry, dict) or set(entry) - {"name", "entity", "enabled"}:
            raise _fail(path, f"recognizers[{i}] must have name, entity and optionally enabled")
        name, entity = entry.get("name"), entry.get("entity")
        cls = RECOGNIZERS.get(str(name))
        if cls is None:
            raise _fail(path, f"recognizers[{i}]: unknown recognizer {name!r}")
        if cls.ENTITY != entity:
            raise _fail(path, f"recognizers[{i}]: {name} detects {cls.ENTITY}, not {entity}")
        if name in seen:
            raise _fail(path, f"recognizers[{i}]: {name} listed twice")
        seen.add(str(name))
        if entry.get("enabled", True):
            built.append(cls())
    if not built:
        raise _fail(path, "no recognizer enabled")
    return RecognizerSet(
        recognizers=tuple(built),
        score_threshold=_score(path, "score_threshold", doc.get("score_threshold", 0.35)),
        context={k: float(v) for k, v in context.items()},
        ner_entities=ner_entities,
        ner_min_score=_score(path, "ner.min_score", ner.get("min_score", 0.5)),
        thresholds=_thresholds(path, doc.get("thresholds")),
    )
