"""The bridge from ingest to the redaction engine, usable in-process or in a worker process.

A :class:`RedactionJob` is plain data (settings, spec, the dataset's pseudonym key), so it can be
sent to spawned workers; each process builds its analyzer once and reuses it for every batch.
Counts are computed here from the spans, per field and entity type, so workers' reports add up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from appliance.datasets.spec import DatasetSpec, get_path, set_path


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
    """Process-pool initializer: one torch thread per worker, the engine built once."""
    import torch

    torch.set_num_threads(1)
    _worker_state["job"] = job
    _worker_state["redactors"] = _build(job)


def redact_batch(
    job: RedactionJob | None, batch: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Redact the text fields of a batch; returns the kept records and this batch's counts."""
    if job is None:
        job = _worker_state["job"]
        redactors = _worker_state["redactors"]
    else:
        key = id(job)
        if _worker_state.get("local_key") != key:
            _worker_state["local_key"] = key
            _worker_state["local"] = _build(job)
        redactors = _worker_state["local"]
    spec = job.parsed_spec()
    entities: Counter[str] = Counter()
    touched = [False] * len(batch)
    dropped = [False] * len(batch)
    if spec.redact:
        for field in spec.text_fields():
            positions = [i for i, r in enumerate(batch) if isinstance(get_path(r, field), str)]
            if not positions:
                continue
            results = redactors[field].redact_batch([get_path(batch[i], field) for i in positions],
                                                    field)
            for i, result in zip(positions, results, strict=True):
                set_path(batch[i], field, result.text)
                for span in result.spans:
                    entities[f"{field}\t{span.entity_type}"] += 1
                touched[i] = touched[i] or bool(result.spans)
                dropped[i] = dropped[i] or result.dropped
    kept = [r for r, gone in zip(batch, dropped, strict=True) if not gone]
    counts = {"entities": dict(entities), "records_touched": sum(touched),
              "records_dropped_pii": sum(dropped)}
    return kept, counts


def merge_reports(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum batch counts into the report's redaction section: {field: {entity: n}}."""
    entities: Counter[str] = Counter()
    touched = dropped = 0
    for part in parts:
        entities.update(part["entities"])
        touched += part["records_touched"]
        dropped += part["records_dropped_pii"]
    by_field: dict[str, dict[str, int]] = {}
    for key, count in sorted(entities.items()):
        field, entity = key.split("\t")
        by_field.setdefault(field, {})[entity] = count
    return {"entities_by_field": by_field, "records_touched": touched,
            "records_dropped_pii": dropped}


def _build(job: RedactionJob) -> dict[str, Any]:
    spec = job.parsed_spec()
    if not spec.redact or not spec.text_fields():
        return {}
    from appliance.config import Settings
    from appliance.redaction import Redactor, build_analyzer

    analyzer = build_analyzer(Settings.model_validate(job.settings))
    # One redactor for every field, so a pseudonym is the same wherever the value appears.
    redactor = Redactor(
        analyzer,
        operators={k: _OPERATOR_NAMES[v] for k, v in spec.operators.items()},
        default_operator=_OPERATOR_NAMES[spec.default_operator],
        pseudonym_key=job.pseudonym_key,
        field_operators={f: {k: _OPERATOR_NAMES[v] for k, v in ops.items()}
                         for f, ops in spec.field_operators.items()},
    )
    return {field: redactor for field in spec.text_fields()}


#: Spec operator names -> the redaction engine's.
_OPERATOR_NAMES = {"placeholder": "placeholder", "mask": "mask", "pseudonym": "pseudonym",
                   "drop_record": "drop"}
