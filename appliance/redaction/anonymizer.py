"""Anonymization: Presidio's ``AnonymizerEngine`` with one operator per entity type, per field.

Operators:

- ``placeholder`` (default): ``<PERSON>``.
- ``mask``: every character of the value becomes ``*`` (length kept: a reviewer sees the shape).
- ``pseudonym``: ``<PERSON_3>``. The value is normalised (NFKC, case-folded, whitespace collapsed),
  keyed with HMAC-SHA-256 under the dataset's key, and the digest gets the next number for its
  entity type the first time it appears in the dataset. The same person is the same pseudonym in
  every record of one dataset and unlinkable across datasets (another key). Only digests are kept.
- ``drop``: a record holding such an entity is dropped whole (``RedactionResult.dropped``).

Every replacement is also a ``Mark`` in ``RedactionResult.marks``: where it sits in the REDACTED
text, its entity type and the detector's score, so a reviewer can see what each placeholder
replaced and how sure the detector was (``datasets.review``). Presidio joins neighbouring spans of
one type separated by spaces into one replacement; that mark's score is its members' lowest.

A process pool: analysis is the costly part and is stateless, so workers run
``analyze_texts(config, texts)`` (one analyzer per process, built from a picklable
``RedactorConfig``); the parent passes the spans to ``Redactor.redact_batch(..., spans=...)``, so
pseudonym numbers follow the dataset's order no matter which worker saw a value first.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

from appliance.errors import ConfigurationError
from appliance.redaction.analyzer import PiiAnalyzer, PiiSpan, build_analyzer
from appliance.redaction.report import RedactionReport

Operator = Literal["placeholder", "mask", "pseudonym", "drop"]
OPERATORS: tuple[str, ...] = ("placeholder", "mask", "pseudonym", "drop")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Mark:
    """One replacement in a redacted text: ``text[start:end]`` replaced a span of ``entity``."""

    start: int
    end: int
    entity: str
    score: float


@dataclass(frozen=True)
class RedactionResult:
    text: str
    spans: list[PiiSpan]
    dropped: bool = False
    marks: tuple[Mark, ...] = ()


class PseudonymRegistry:
    """digest -> number, per entity type, in order of first appearance; never the value itself."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigurationError("a pseudonym key must be at least 16 bytes")
        self._key = key
        self._numbers: dict[str, dict[bytes, int]] = {}

    def pseudonym(self, entity_type: str, value: str) -> str:
        canonical = _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip().casefold()
        message = f"{entity_type}\0{canonical}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        numbers = self._numbers.setdefault(entity_type, {})
        number = numbers.setdefault(digest, len(numbers) + 1)
        return f"<{entity_type}_{number}>"


def _check(operators: dict[str, str]) -> dict[str, str]:
    for entity, op in operators.items():
        if op not in OPERATORS:
            raise ConfigurationError(
                f"unknown operator {op!r} for {entity}; choose from {OPERATORS}")
    return dict(operators)


class Redactor:
    """Analyze and anonymize batches of texts of one dataset; accumulates a ``RedactionReport``."""

    def __init__(self, analyzer: PiiAnalyzer | None, operators: dict[str, str] | None = None,
                 default_operator: str = "placeholder", pseudonym_key: bytes | None = None, *,
                 field_operators: dict[str, dict[str, str]] | None = None) -> None:
        self.analyzer = analyzer
        self.operators = _check(operators or {})
        self.default_operator = _check({"*": default_operator})["*"]
        self.field_operators = {f: _check(ops) for f, ops in (field_operators or {}).items()}
        uses_pseudonyms = "pseudonym" in {default_operator, *self.operators.values(),
                                          *(o for ops in self.field_operators.values()
                                            for o in ops.values())}
        if uses_pseudonyms and pseudonym_key is None:
            raise ConfigurationError("the pseudonym operator needs the dataset's pseudonym key")
        self._pseudonyms = PseudonymRegistry(pseudonym_key) if pseudonym_key else None
        self._engine = AnonymizerEngine()
        self.report = RedactionReport()

    def operator_for(self, field_name: str, entity_type: str) -> str:
        per_field = self.field_operators.get(field_name, {})
        chosen = per_field.get(entity_type) or self.operators.get(entity_type)
        return chosen or self.default_operator

    def redact_batch(self, texts: list[str], field: str,
                     spans: list[list[PiiSpan]] | None = None) -> list[RedactionResult]:
        """Redact ``texts`` of ``field``; pass ``spans`` when analysis ran elsewhere (a worker)."""
        if spans is None:
            if self.analyzer is None:
                raise ConfigurationError("this Redactor has no analyzer: pass spans")
            spans = self.analyzer.analyze_batch(texts)
        results = [self._redact_one(text, found, field) for text, found in zip(texts, spans,
                                                                                strict=True)]
        for result in results:
            self.report.add(field, result.spans, dropped=result.dropped)
        return results

    def _redact_one(self, text: str, spans: list[PiiSpan], field_name: str) -> RedactionResult:
        if not spans:
            return RedactionResult(text, [])
        ops = {s.entity_type: self.operator_for(field_name, s.entity_type) for s in spans}
        if "drop" in ops.values():
            return RedactionResult("", spans, dropped=True)
        if self._pseudonyms is not None:
            # Presidio applies operators from the end of the text backwards; number the values
            # in reading order first, so "first appearance" means what a reader would expect.
            for s in sorted(spans, key=lambda s: s.start):
                if ops[s.entity_type] == "pseudonym":
                    self._pseudonyms.pseudonym(s.entity_type, text[s.start : s.end])
        configs: dict[str, OperatorConfig] = {}
        for entity, op in ops.items():
            configs[entity] = self._operator_config(entity, op)
        results = [RecognizerResult(s.entity_type, s.start, s.end, s.score) for s in spans]
        out = self._engine.anonymize(text=text, analyzer_results=results, operators=configs)
        return RedactionResult(out.text, spans, marks=_marks(text, spans, out.items))

    def _operator_config(self, entity: str, op: str) -> OperatorConfig:
        if op == "mask":
            return OperatorConfig("mask", {"masking_char": "*", "chars_to_mask": 1 << 30,
                                           "from_end": False})
        if op == "pseudonym":
            registry = self._pseudonyms
            assert registry is not None  # checked in __init__
            return OperatorConfig("custom", {"lambda": lambda value, e=entity:
                                             registry.pseudonym(e, value)})
        return OperatorConfig("replace", {"new_value": f"<{entity}>"})


_SPACES_ONLY = re.compile(r"^( )+$")  # Presidio's rule for joining two spans of one type


def _marks(text: str, spans: list[PiiSpan], items: list[Any]) -> tuple[Mark, ...]:
    """Pair Presidio's replacements (output positions) with the spans they replaced."""
    groups: list[list[PiiSpan]] = []
    for s in sorted(spans, key=lambda s: (s.start, s.end)):
        last = groups[-1][-1] if groups else None
        if last is not None and last.entity_type == s.entity_type \
                and _SPACES_ONLY.match(text[last.end : s.start]):
            groups[-1].append(s)
        else:
            groups.append([s])
    placed = sorted(items, key=lambda i: i.start)
    if len(placed) != len(groups) or any(i.entity_type != g[0].entity_type
                                         for i, g in zip(placed, groups, strict=True)):
        return ()  # not the pairing expected (a Presidio change): no marks rather than wrong ones
    return tuple(Mark(i.start, i.end, i.entity_type, round(min(s.score for s in g), 3))
                 for i, g in zip(placed, groups, strict=True))


@dataclass(frozen=True)
class RedactorConfig:
    """Everything a worker process needs to rebuild the same analyzer and redactor (picklable)."""

    ner_backend: str = "bundled"
    ner_model_path: str | None = None
    ner_device: str = "auto"
    operators: dict[str, str] = field(default_factory=dict)
    default_operator: str = "placeholder"
    field_operators: dict[str, dict[str, str]] = field(default_factory=dict)
    pseudonym_key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> RedactorConfig:
        path = getattr(settings, "ner_model_path", None)
        return cls(ner_backend=getattr(settings, "ner_backend", "bundled"),
                   ner_model_path=str(path) if path else None,
                   ner_device=getattr(settings, "ner_device", "auto"), **kwargs)


_ANALYZERS: dict[tuple[str, str | None, str], PiiAnalyzer] = {}


def _analyzer_for(config: RedactorConfig) -> PiiAnalyzer:
    key = (config.ner_backend, config.ner_model_path, config.ner_device)
    if key not in _ANALYZERS:  # one per process: workers reuse it across batches
        from pathlib import Path
        from types import SimpleNamespace

        settings = SimpleNamespace(ner_backend=config.ner_backend,
                                   ner_model_path=Path(config.ner_model_path)
                                   if config.ner_model_path else None,
                                   ner_device=config.ner_device)
        _ANALYZERS[key] = build_analyzer(settings)
    return _ANALYZERS[key]


def build_redactor(config: RedactorConfig) -> Redactor:
    return Redactor(_analyzer_for(config), config.operators, config.default_operator,
                    config.pseudonym_key, field_operators=config.field_operators)


def analyze_texts(config: RedactorConfig, texts: list[str]) -> list[list[PiiSpan]]:
    """Worker entry point for a process pool: spans only, no state that must be ordered."""
    return _analyzer_for(config).analyze_batch(texts)
