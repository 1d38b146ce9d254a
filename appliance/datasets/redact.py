"""The bridge from ingest to the redaction engine, usable in-process or in a worker process.

A :class:`RedactionJob` is plain data (settings, spec, the dataset's pseudonym key), so it can be
sent to spawned workers; each process builds its analyzer once and reuses it for every batch.
Counts are computed here from the spans, per field and entity type, so workers' reports add up.
Which values are redacted is :mod:`appliance.datasets.fields`'s rule: all of them but the kept.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from typing import Any

from appliance.datasets.fields import (
    KEY_FIELD,
    FieldLeaves,
    collect_leaves,
    named_prefixes,
    rename_keys,
    scanned_keys,
)
from appliance.datasets.spec import DatasetSpec


@dataclass(frozen=True)
class RedactionJob:
    settings: dict[str, Any]
    spec: dict[str, Any]
    pseudonym_key: bytes

    def parsed_spec(self) -> DatasetSpec:
        return DatasetSpec.model_validate(self.spec)

    def uses_pseudonyms(self) -> bool:
        spec = self.parsed_spec()
        chosen = [spec.default_operator, *spec.operators.values()]
        chosen += [op for ops in spec.field_operators.values() for op in ops.values()]
        return spec.redact and "pseudonym" in chosen


_worker_state: dict[str, Any] = {}


def start_worker(job: RedactionJob) -> None:
    """Process-pool initializer: die with the ingest, one torch thread, the engine built once."""
    from appliance.process import die_with_parent

    die_with_parent()  # first: a killed ingest must not leave workers holding records
    import torch

    torch.set_num_threads(1)
    _worker_state["job"] = job
    _worker_state["redactors"] = _build(job)


def redact_batch(
    job: RedactionJob | None, batch: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Redact every field of a batch that is not kept; returns the kept records and the counts.

    One analyzer call per field (and one for the keys that are data), over the distinct values
    of the batch, so a label repeated in every record is analysed once.
    """
    if job is None:
        job = _worker_state["job"]
        redactor = _worker_state["redactors"]
    else:
        key = id(job)
        if _worker_state.get("local_key") != key:
            _worker_state["local_key"] = key
            _worker_state["local"] = _build(job)
        redactor = _worker_state["local"]
    spec = job.parsed_spec()
    kept = frozenset(spec.kept_fields())
    named = named_prefixes(spec.named_fields())
    report = _BatchReport(len(batch))
    if redactor is not None:
        _redact_keys(redactor, batch, kept, named, report)
    for path, group in collect_leaves(batch, kept).items():
        if redactor is None:
            report.seen(path, "unredacted", len(group.leaves))
        elif group.kept:
            _scan_kept(redactor, path, group, report)
        else:
            _redact_field(redactor, spec.operator_field(path), path, group, report)
    kept_records = [r for r, gone in zip(batch, report.dropped, strict=True) if not gone]
    return kept_records, report.to_dict()


class _BatchReport:
    """Counts for one batch: per field, and the records touched or dropped (never a value)."""

    def __init__(self, size: int) -> None:
        self.fields: dict[str, dict[str, Any]] = {}
        self.touched = [False] * size
        self.dropped = [False] * size
        #: Per redacted field: [values shaped like a name (``speak_to_agent``), those redacted].
        self.names: dict[str, list[int]] = {}
        #: (record in the batch, field path, leaf ordinal, marks): what each placeholder replaced.
        self.marks: list[tuple[int, str, int, tuple[Any, ...]]] = []

    def seen(self, path: str, action: str, values: int) -> dict[str, Any]:
        row = self.fields.setdefault(path, {"action": action, "values": 0,
                                            "values_with_pii": 0, "entities": {}})
        row["values"] += values
        return row

    def found(self, row: dict[str, Any], spans: list[Any]) -> None:
        if spans:
            row["values_with_pii"] += 1
            entities = row["entities"]
            for span in spans:
                entities[span.entity_type] = entities.get(span.entity_type, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {"fields": self.fields, "records_touched": sum(self.touched),
                "records_dropped_pii": sum(self.dropped), "names": self.names,
                "marks": self._stored_marks()}

    def _stored_marks(self) -> list[list[Any]]:
        """``[row in the batch as stored, path, ordinal, start, end, entity, score]``: rows count
        only the records kept, so the ingest can add the rows stored before this batch."""
        row, rows = 0, []
        for gone in self.dropped:
            rows.append(None if gone else row)
            row += not gone
        out = []
        for record, path, ordinal, marks in self.marks:
            stored = rows[record]
            if stored is not None:
                out += [[stored, path, ordinal, m.start, m.end, m.entity, m.score] for m in marks]
        return out


def _redact_keys(redactor: Any, batch: list[dict[str, Any]], kept: frozenset[str],
                 named: frozenset[str], report: _BatchReport) -> None:
    per_record = [list(scanned_keys(r, kept, named)) for r in batch]
    distinct = list(dict.fromkeys(k for keys in per_record for k in keys))
    if not distinct:
        return
    results = dict(zip(distinct, redactor.redact_batch(distinct, KEY_FIELD), strict=True))
    renamed = {k: r.text for k, r in results.items() if r.spans}
    if not renamed:
        return
    row = report.seen(KEY_FIELD, "redacted", 0)
    for index, keys in enumerate(per_record):
        row["values"] += len(keys)
        for k in keys:
            report.found(row, results[k].spans)
            if results[k].spans:
                report.touched[index] = True
                report.dropped[index] = report.dropped[index] or results[k].dropped
        if any(k in renamed for k in keys):
            rename_keys(batch[index], kept, named, renamed)


def _scan_kept(redactor: Any, path: str, group: FieldLeaves, report: _BatchReport) -> None:
    """Kept values are analysed too, unchanged, so a reviewer learns when they look like PII."""
    row = report.seen(path, "kept", len(group.leaves))
    distinct = list(dict.fromkeys(leaf.text for leaf in group.leaves))
    spans = dict(zip(distinct, redactor.analyzer.analyze_batch(distinct), strict=True))
    for leaf in group.leaves:
        report.found(row, spans[leaf.text])


def _redact_field(redactor: Any, operator_field: str, path: str, group: FieldLeaves,
                  report: _BatchReport) -> None:
    row = report.seen(path, "redacted", len(group.leaves))
    distinct = list(dict.fromkeys(leaf.text for leaf in group.leaves))
    results = dict(zip(distinct, redactor.redact_batch(distinct, operator_field), strict=True))
    names = report.names.setdefault(path, [0, 0])
    ordinals: dict[int, int] = {}  # record -> leaves of this path seen so far (a list's items)
    for leaf in group.leaves:
        result = results[leaf.text]
        ordinal = ordinals[leaf.record] = ordinals.get(leaf.record, -1) + 1
        if result.marks:
            report.marks.append((leaf.record, path, ordinal, result.marks))
        report.found(row, result.spans)
        if NAME_SHAPED.fullmatch(leaf.text):
            names[0] += 1
            names[1] += bool(result.spans)
        if result.spans:
            # A number whose text holds PII (a card, a phone) becomes the redacted text.
            leaf.replace(result.text)
            report.touched[leaf.record] = True
        report.dropped[leaf.record] = report.dropped[leaf.record] or result.dropped


#: A whole value in snake_case (``report_lost_card``): how category and intent names are written.
NAME_SHAPED = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
#: A redacted field is a field of names when this share of its values are name-shaped; it is
#: worth a warning when redaction changed some of them but under half (a username field, where
#: nearly every value holds a person's name, is not).
NAMES_SHARE, NAMES_REDACTED_BELOW = 0.9, 0.5


def label_like_redactions(fields: dict[str, dict[str, Any]],
                          names: dict[str, list[int]]) -> dict[str, int]:
    """{redacted field: values changed} for fields that hold category names, not free text.

    Such a field (an SFT response of intent names, say) loses a few of its names to placeholders
    (``speak_to_<PERSON>``) where a recognizer mistakes a word for PII; a model trained on it
    learns the placeholder. The ingest warns, so that a reviewer can keep the field as given.
    """
    out = {}
    for path, (shaped, redacted) in sorted(names.items()):
        values = fields.get(path, {}).get("values", 0)
        if values and redacted and shaped >= NAMES_SHARE * values \
                and redacted < NAMES_REDACTED_BELOW * shaped:
            out[path] = redacted
    return out


#: The most fields a report lists by name; the rest (records with keys made of data that held
#: no PII, say) are summed into one row, so a report stays small whatever the input.
MAX_REPORT_FIELDS = 500
OTHER_FIELDS = "(other fields)"


def merge_reports(parts: list[dict[str, Any]],
                  review: ReviewQueue | None = None) -> dict[str, Any]:
    """Sum batch counts into the report's redaction section.

    ``fields``: {path: {action, values, values_with_pii, entities}}; ``entities_by_field``: the
    redacted fields' entities; ``kept_with_pii``: {kept field: values that look like PII}.
    """
    fields: dict[str, dict[str, Any]] = {}
    names: dict[str, list[int]] = {}
    touched = dropped = 0
    for part in parts:
        touched += part["records_touched"]
        dropped += part["records_dropped_pii"]
        for path, (shaped, redacted) in part.get("names", {}).items():
            ours_names = names.setdefault(path, [0, 0])
            ours_names[0] += shaped
            ours_names[1] += redacted
        for path, theirs in part["fields"].items():
            if path not in fields and len(fields) >= MAX_REPORT_FIELDS:
                path = OTHER_FIELDS
            ours = fields.setdefault(path, {"action": theirs["action"], "values": 0,
                                            "values_with_pii": 0, "entities": {}})
            ours["values"] += theirs["values"]
            ours["values_with_pii"] += theirs["values_with_pii"]
            for entity, n in theirs["entities"].items():
                ours["entities"][entity] = ours["entities"].get(entity, 0) + n
    fields = {p: {**row, "entities": dict(sorted(row["entities"].items()))}
              for p, row in sorted(fields.items())}
    by_field = {p: row["entities"] for p, row in fields.items()
                if row["action"] == "redacted" and row["entities"]}
    flagged = {p: row["values_with_pii"] for p, row in fields.items()
               if row["action"] == "kept" and row["values_with_pii"]}
    out = {"fields": fields, "entities_by_field": by_field, "kept_with_pii": flagged,
           "records_touched": touched, "records_dropped_pii": dropped}
    if review is not None and review.rows_or_lowest():
        out["review"] = review.to_dict()
    label_like = label_like_redactions(fields, names)
    if label_like:
        out["names_redacted"] = label_like
    return out


#: The review section keeps every mark of the first rows (the sample's first pages) and the
#: lowest-scored marks of the whole dataset (the reviewer's queue); both bounded, whatever the size.
REVIEW_ROWS, REVIEW_LOWEST = 200, 200


class ReviewQueue:
    """The report's ``review`` section, built batch by batch in bounded memory.

    ``rows``: {row: [[path, ordinal, start, end, entity, score], ...]} for rows < REVIEW_ROWS;
    ``lowest``: the REVIEW_LOWEST lowest-scored ``[row, path, ordinal, start, end, entity, score]``
    of the dataset, lowest first. Positions are in the stored (redacted) text; no value is kept.
    """

    def __init__(self) -> None:
        self.rows: dict[str, list[list[Any]]] = {}
        self._heap: list[tuple[float, int, int, int, list[Any]]] = []  # max-heap on the key
        self._seq = 0

    def add(self, first_row: int, marks: list[list[Any]]) -> None:
        """One batch's marks; ``first_row``: the records stored before it."""
        for row, *rest in marks:
            mark = [first_row + row, *rest]
            if mark[0] < REVIEW_ROWS:
                self.rows.setdefault(str(mark[0]), []).append(rest)
            self._seq += 1
            item = (-mark[6], -mark[0], -mark[3], -self._seq, mark)
            if len(self._heap) < REVIEW_LOWEST:
                heapq.heappush(self._heap, item)
            elif item > self._heap[0]:
                heapq.heapreplace(self._heap, item)

    def rows_or_lowest(self) -> bool:
        return bool(self._heap)

    def to_dict(self) -> dict[str, Any]:
        lowest = [m for *_, m in sorted(self._heap, reverse=True)]
        return {"rows": self.rows, "lowest": lowest}


def _build(job: RedactionJob) -> Any:
    """The batch's one Redactor (None when redaction is off)."""
    spec = job.parsed_spec()
    if not spec.redact:
        return None
    from appliance.config import Settings
    from appliance.redaction import Redactor, build_analyzer

    analyzer = build_analyzer(Settings.model_validate(job.settings))
    # One redactor for every field, so a pseudonym is the same wherever the value appears.
    return Redactor(
        analyzer,
        operators={k: _OPERATOR_NAMES[v] for k, v in spec.operators.items()},
        default_operator=_OPERATOR_NAMES[spec.default_operator],
        pseudonym_key=job.pseudonym_key,
        field_operators={f: {k: _OPERATOR_NAMES[v] for k, v in ops.items()}
                         for f, ops in spec.field_operators.items()},
    )


#: Spec operator names -> the redaction engine's.
_OPERATOR_NAMES = {"placeholder": "placeholder", "mask": "mask", "pseudonym": "pseudonym",
                   "drop_record": "drop"}
