"""Span-level evaluation of PII detection against a gold JSONL file (``appliance pii evaluate``).

Gold: one ``{"text": ..., "spans": [{"start", "end", "label"}]}`` per line. Labels are mapped onto
the appliance's entity types through ``LABEL_ALIASES`` (PER -> PERSON, GPE -> LOCATION, ...).

Matching rules, per entity type (a prediction of another type never counts, except in
any-label recall):

- **overlap**: a gold span is *found* when a prediction of its type shares at least one character
  with it (recall = found / gold); a prediction is *correct* when it shares at least one character
  with a gold span of its type (precision = correct / predicted). Redaction cares about this one:
  a name redacted with one extra word is still redacted.
- **strict**: a gold span and a prediction match only with the same type and exactly the same
  boundaries (precision = matches / predicted, recall = matches / gold).
- **any-label recall**: a gold span covered, even partly, by a prediction of any type (the PII was
  redacted, if under the wrong placeholder).

F1 is the harmonic mean of precision and recall (0 when both are 0). "overall" is the
micro-average over all spans.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABEL_ALIASES = {
    "PER": "PERSON", "PERSON": "PERSON", "NAME": "PERSON", "NAME_STUDENT": "PERSON",
    "FIRSTNAME": "PERSON", "LASTNAME": "PERSON", "USERNAME": "PERSON",
    "LOC": "LOCATION", "GPE": "LOCATION", "LOCATION": "LOCATION", "ADDRESS": "LOCATION",
    "STREET_ADDRESS": "LOCATION", "CITY": "LOCATION", "COUNTRY": "LOCATION", "STATE": "LOCATION",
    "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION", "ORGANISATION": "ORGANIZATION",
    "COMPANY": "ORGANIZATION", "COMPANYNAME": "ORGANIZATION",
    "EMAIL": "EMAIL_ADDRESS", "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER", "PHONE_NUMBER": "PHONE_NUMBER", "PHONE_NUM": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD", "CREDIT_CARD_NUMBER": "CREDIT_CARD",
    "CREDITCARDNUMBER": "CREDIT_CARD",
    "IBAN": "IBAN_CODE", "IBAN_CODE": "IBAN_CODE",
    "SSN": "US_SSN", "US_SSN": "US_SSN", "ITIN": "US_ITIN", "US_ITIN": "US_ITIN",
    "US_PASSPORT": "US_PASSPORT", "PASSPORT": "US_PASSPORT",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE", "DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "UK_NHS": "UK_NHS", "NHS": "UK_NHS",
    "IP": "IP_ADDRESS", "IP_ADDRESS": "IP_ADDRESS", "IPV4": "IP_ADDRESS", "IPV6": "IP_ADDRESS",
    "URL": "URL", "CRYPTO": "CRYPTO", "BITCOINADDRESS": "CRYPTO", "ETHEREUMADDRESS": "CRYPTO",
    "DATE": "DATE_TIME", "TIME": "DATE_TIME", "DATE_TIME": "DATE_TIME", "DOB": "DATE_TIME",
    "DATE_OF_BIRTH": "DATE_TIME",
    "BANK_ACCOUNT": "BANK_ACCOUNT", "US_BANK_NUMBER": "BANK_ACCOUNT",
    "ACCOUNTNUMBER": "BANK_ACCOUNT",
}


def canonical_label(label: str) -> str:
    return LABEL_ALIASES.get(label.upper(), label.upper())


@dataclass
class LabelScore:
    gold: int = 0
    predicted: int = 0
    found: int = 0          # overlap rule, gold side
    correct: int = 0        # overlap rule, prediction side
    exact: int = 0          # strict rule
    any_label: int = 0      # gold spans covered by a prediction of any type

    @staticmethod
    def _f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0

    def row(self) -> dict[str, float | int]:
        p = self.correct / self.predicted if self.predicted else 0.0
        r = self.found / self.gold if self.gold else 0.0
        sp = self.exact / self.predicted if self.predicted else 0.0
        sr = self.exact / self.gold if self.gold else 0.0
        return {"gold": self.gold, "predicted": self.predicted,
                "precision": round(p, 4), "recall": round(r, 4), "f1": round(self._f1(p, r), 4),
                "strict_precision": round(sp, 4), "strict_recall": round(sr, 4),
                "strict_f1": round(self._f1(sp, sr), 4),
                "any_label_recall": round(self.any_label / self.gold, 4) if self.gold else 0.0}


@dataclass
class EvalTable:
    labels: dict[str, LabelScore] = field(default_factory=dict)
    records: int = 0

    def overall(self) -> LabelScore:
        total = LabelScore()
        for s in self.labels.values():
            for name in ("gold", "predicted", "found", "correct", "exact", "any_label"):
                setattr(total, name, getattr(total, name) + getattr(s, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records,
                "labels": {k: v.row() for k, v in sorted(self.labels.items())},
                "overall": self.overall().row()}

    def render(self) -> str:
        """A plain-text table: overlap P/R/F1, then strict P/R/F1, then any-label recall."""
        head = (f"{'label':<18}{'gold':>6}{'pred':>6}{'P':>8}{'R':>8}{'F1':>8}"
                f"{'strictP':>9}{'strictR':>9}{'strictF1':>9}{'anyR':>8}")
        lines = [head, "-" * len(head)]
        rows = [*sorted(self.labels.items()), ("overall", self.overall())]
        for name, score in rows:
            r = score.row()
            lines.append(f"{name:<18}{r['gold']:>6}{r['predicted']:>6}{r['precision']:>8.3f}"
                         f"{r['recall']:>8.3f}{r['f1']:>8.3f}{r['strict_precision']:>9.3f}"
                         f"{r['strict_recall']:>9.3f}{r['strict_f1']:>9.3f}"
                         f"{r['any_label_recall']:>8.3f}")
        return "\n".join(lines)


Span = tuple[int, int, str]


def _spans(items: Iterable[dict[str, Any]]) -> list[Span]:
    return [(int(s["start"]), int(s["end"]),
             canonical_label(str(s.get("label") or s.get("entity_type"))))
            for s in items]


def score_record(table: EvalTable, gold: list[Span], pred: list[Span]) -> None:
    """Add one record's counts to ``table`` (the arithmetic the module docstring describes)."""
    table.records += 1
    for start, end, label in gold:
        s = table.labels.setdefault(label, LabelScore())
        s.gold += 1
        same = [p for p in pred if p[2] == label and p[0] < end and start < p[1]]
        s.found += bool(same)
        s.exact += (start, end, label) in pred
        s.any_label += any(p[0] < end and start < p[1] for p in pred)
    for start, end, label in pred:
        s = table.labels.setdefault(label, LabelScore())
        s.predicted += 1
        s.correct += any(g[2] == label and g[0] < end and start < g[1] for g in gold)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]


def evaluate(gold_jsonl: Path | str | list[dict[str, Any]],
             predictions: Path | str | list[list[dict[str, Any]]] | None = None,
             analyzer: Any = None) -> EvalTable:
    """Score predictions (a JSONL of ``{"spans": [...]}`` per gold line, or lists) against gold.

    With no predictions, the analyzer (built with defaults if not given) is run on the gold texts.
    """
    gold = gold_jsonl if isinstance(gold_jsonl, list) else read_jsonl(Path(gold_jsonl))
    if predictions is None:
        if analyzer is None:
            from appliance.redaction.analyzer import build_analyzer

            analyzer = build_analyzer(None)
        found = []
        for i in range(0, len(gold), 64):
            batch = analyzer.analyze_batch([g["text"] for g in gold[i : i + 64]])
            found += [[s.to_dict() for s in spans] for spans in batch]
        preds: list[list[dict[str, Any]]] = found
    elif isinstance(predictions, list):
        preds = predictions
    else:
        preds = [rec.get("spans", []) for rec in read_jsonl(Path(predictions))]
    if len(preds) != len(gold):
        from appliance.errors import InvalidInput

        raise InvalidInput(f"{len(gold)} gold records but {len(preds)} prediction lines")
    table = EvalTable()
    for g, p in zip(gold, preds, strict=True):
        score_record(table, _spans(g.get("spans", [])), _spans(p))
    return table


#: The thresholds ``pii evaluate --thresholds`` tries when given no list.
DEFAULT_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class SweepRow:
    entity: str
    threshold: float
    configured: bool  # the threshold recognizers.yaml sets for this entity
    precision: float
    recall: float
    any_label_recall: float
    predicted: int
    gold: int


def detect_gold(gold: list[dict[str, Any]], analyzer: Any, floor: float) -> list[Any]:
    """Every detector's raw results on the gold texts, the NER's own floor lowered to ``floor``
    for the run (restored after), so that any threshold down to ``floor`` can be resolved later."""
    floor_before = float(analyzer.ner.min_score) if analyzer.ner else 0.0
    if analyzer.ner:
        analyzer.ner.min_score = min(floor, floor_before)
    try:
        detections = []
        for i in range(0, len(gold), 64):
            detections += analyzer.detect_batch([g["text"] for g in gold[i : i + 64]])
    finally:
        if analyzer.ner:
            analyzer.ner.min_score = floor_before
    return detections


def threshold_sweep(gold_jsonl: Path | str | list[dict[str, Any]], analyzer: Any,
                    grid: Iterable[float] = DEFAULT_GRID,
                    entities: Iterable[str] | None = None,
                    detections: list[Any] | None = None) -> list[SweepRow]:
    """Precision and recall of each entity at each threshold in ``grid``, the other entities at
    their configured thresholds (``appliance pii evaluate --thresholds``).

    The detectors run ONCE (``detect_gold`` down to the grid's lowest value, unless the caller
    passes ``detections`` made so); each threshold then re-runs only the cheap steps (thresholds,
    overlap resolution) on the same detections, so every row is what the analyzer would return
    with that one setting changed.
    """
    gold = gold_jsonl if isinstance(gold_jsonl, list) else read_jsonl(Path(gold_jsonl))
    grid = sorted(set(grid))
    if not grid or any(not 0 <= t <= 1 for t in grid):
        from appliance.errors import InvalidInput

        raise InvalidInput(f"thresholds must lie in [0, 1], got {grid}")
    if detections is None:
        detections = detect_gold(gold, analyzer, grid[0])
    gold_spans = [_spans(g.get("spans", [])) for g in gold]
    seen = {label for spans in gold_spans for _, _, label in spans}
    wanted = sorted(set(entities) if entities else seen & set(analyzer.thresholds))
    rows = []
    for entity in wanted:
        for t in grid:
            limits = {**analyzer.thresholds, entity: t}
            table = EvalTable()
            for found, spans in zip(detections, gold_spans, strict=True):
                pred = [(s.start, s.end, s.entity_type) for s in analyzer.resolve(found, limits)]
                score_record(table, spans, pred)
            r = table.labels.get(entity, LabelScore()).row()
            rows.append(SweepRow(entity, t, abs(t - analyzer.thresholds.get(entity, -1)) < 1e-9,
                                 float(r["precision"]), float(r["recall"]),
                                 float(r["any_label_recall"]), int(r["predicted"]),
                                 int(r["gold"])))
    return rows


def render_sweep(rows: list[SweepRow]) -> str:
    head = (f"{'entity':<16}{'threshold':>10}{'P':>8}{'R':>8}{'anyR':>8}{'pred':>7}{'gold':>7}"
            "  (* configured)")
    lines = [head, "-" * len(head)]
    for r in rows:
        mark = " *" if r.configured else ""
        lines.append(f"{r.entity:<16}{r.threshold:>10.2f}{r.precision:>8.3f}{r.recall:>8.3f}"
                     f"{r.any_label_recall:>8.3f}{r.predicted:>7}{r.gold:>7}{mark}")
    return "\n".join(lines)
