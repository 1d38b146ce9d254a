"""Ingest: parse -> clean -> redact -> encrypt -> register, streamed end to end.

The plaintext of a record exists only in memory between parsing and encryption (DESIGN.md). The
vault writer commits the encrypted object only when the whole input was read without error, and
the dataset row is inserted only after that, so a rejected upload leaves nothing behind
(invariant 6). Redaction runs in a process pool over all cores for large inputs; batches are
consumed in order so the stored dataset keeps the input's order.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import IO, TYPE_CHECKING, Any

from appliance.datasets import notices
from appliance.datasets.clean import Cleaner
from appliance.datasets.parse import Format, read_records
from appliance.datasets.progress import IngestProgress, Mode
from appliance.datasets.redact import (
    RedactionJob,
    ReviewQueue,
    merge_reports,
    redact_batch,
    start_worker,
)
from appliance.datasets.spec import DatasetSpec, del_path, get_path
from appliance.db import transaction
from appliance.errors import InvalidInput
from appliance.gate import Action, Principal, begin_action, tracks_outcome

if TYPE_CHECKING:
    from appliance.context import Context

BATCH = 64
#: Inputs smaller than this are redacted in-process: starting workers costs more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
STATE_PENDING = "PENDING_REVIEW"


@dataclass
class IngestResult:
    dataset_id: str
    rows: int
    content_hash: str
    report: dict[str, Any]
    #: Said to the user (CLI, API) and kept in the report: drops, label types, PII in kept
    #: fields, a reused name or content. Counts and names only, never a value.
    warnings: list[str] = field(default_factory=list)


def new_dataset_id() -> str:
    return "ds_" + secrets.token_hex(6)


@tracks_outcome  # a failed ingest gets dataset.ingest.failed; a killed one, .aborted at start-up
def ingest_stream(
    ctx: Context,
    principal: Principal,
    stream: IO[bytes],
    *,
    name: str,
    source_name: str,
    fmt: Format,
    spec: DatasetSpec,
    total_bytes: int | None = None,
    progress: bool | Mode = False,
    workers: int | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    lineage: dict[str, Any] | None = None,
) -> IngestResult:
    """Store one input as a new PENDING_REVIEW dataset, or raise and store nothing.

    ``progress``: "bar" (or True) for a tqdm bar, "lines" for a plain line every few seconds
    on standard error (for a log), False for silence. ``lineage``: where records the appliance
    made itself come from (a feedback campaign: its id, models, reviewers by role and
    pseudonym), kept in the sealed report as ``lineage`` for the reviewer; JSON, no record text.
    """
    if not name.strip() or len(name) > 200:
        raise InvalidInput("dataset name must be 1-200 characters")
    if lineage is not None:  # checked (and copied) before any work: a mapping of JSON values
        try:
            lineage = json.loads(json.dumps(lineage))
        except (TypeError, ValueError):
            lineage = None
        if not isinstance(lineage, dict):
            raise InvalidInput("lineage must be a mapping of JSON values")
    dataset_id = new_dataset_id()
    resource = {"type": "dataset", "id": dataset_id, "classification": spec.classification,
                "uploaded_by": principal.name}
    action = begin_action(ctx, principal, "dataset.ingest", resource, "ingest",
                          {"format": fmt, "task": spec.task})
    pseudonym_key = secrets.token_bytes(32)
    job = RedactionJob(ctx.settings.model_dump(mode="json"), spec.model_dump(), pseudonym_key)
    cleaner = Cleaner(spec, ctx.settings.path("tmp"))
    bar = IngestProgress(name, total_bytes, "bar" if progress is True else progress or None)
    dropped_fields: dict[str, int] = dict.fromkeys(spec.drop_fields, 0)
    try:
        records = _cleaned(read_records(_counting(stream, bar), source_name, fmt,
                                        ctx.settings.max_record_bytes), cleaner, spec, bar,
                           dropped_fields)
        workers = workers or os.cpu_count() or 1
        parallel = workers > 1 and (total_bytes or 0) >= parallel_min_bytes
        if job.uses_pseudonyms():
            parallel = False  # pseudonym numbers are assigned in order of first appearance
        stored = _store(ctx, job, _batches(records), workers if parallel else 0,
                        lambda pii: notices.nothing_left(spec, cleaner, pii))
    finally:
        bar.close()
        cleaner.close()
    object_id, rows, content_hash, redaction = stored
    for path, present in dropped_fields.items():
        redaction["fields"][path] = {"action": "dropped", "values": present,
                                     "values_with_pii": 0, "entities": {}}
    warnings = notices.content_warnings(spec, cleaner, redaction)
    warnings += notices.duplicate_warnings(*_existing(ctx, name, content_hash), name)
    report = {"dataset_id": dataset_id, "rows": rows, "cleaning": dict(cleaner.counts),
              "dropped_by_field": {"missing": dict(cleaner.missing),
                                   "too_long": dict(cleaner.too_long)},
              **redaction, "warnings": warnings}
    if lineage is not None:
        report["lineage"] = lineage
    try:
        report_id = ctx.vault.put("report", [json.dumps(report, sort_keys=True).encode()])
        ctx.vault.put("pseudonym-key", [pseudonym_key])
        _register(ctx, principal, dataset_id, name, fmt, spec, rows, content_hash, object_id,
                  report_id, action)
    except BaseException:
        ctx.vault.shred(object_id)
        raise
    ctx.audit.append(
        actor=principal.name, role=principal.role, action="dataset.stored",
        resource=f"dataset:{dataset_id}", purpose="ingest", decision="allow", reasons=[],
        policy_hash=ctx.policy.policy_hash,
        details={"object_id": object_id, "rows": rows, "content_hash": content_hash},
    )
    return IngestResult(dataset_id, rows, content_hash, report, warnings)


def _counting(stream: IO[bytes], bar: IngestProgress) -> IO[bytes]:
    """Wrap the input so the progress bar advances by bytes read."""

    class _Counted:
        def readline(self, size: int = -1) -> bytes:
            line = stream.readline(size)
            bar.read(len(line))
            return line

        def read(self, size: int = -1) -> bytes:
            data = stream.read(size)
            bar.read(len(data))
            return data

        def read1(self, size: int = -1) -> bytes:
            return self.read(size)

        def readable(self) -> bool:
            return True

        def __getattr__(self, item: str) -> Any:
            return getattr(stream, item)

    return _Counted()  # type: ignore[return-value]


def _cleaned(
    records: Iterable[tuple[int, dict[str, Any]]], cleaner: Cleaner, spec: DatasetSpec,
    bar: IngestProgress, dropped_fields: dict[str, int],
) -> Iterator[dict[str, Any]]:
    for _, record in records:
        bar.record()
        for path in spec.drop_fields:
            dropped_fields[path] += get_path(record, path) is not None
            del_path(record, path)
        cleaned = cleaner.clean(record)
        if cleaned is not None:
            yield cleaned


def _batches(records: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _store(
    ctx: Context, job: RedactionJob, batches: Iterable[list[dict[str, Any]]], workers: int | None,
    nothing_left: Callable[[int], str],
) -> tuple[str, int, str, dict[str, Any]]:
    hasher = hashlib.sha256()
    rows = 0
    reports: list[dict[str, Any]] = []
    review = ReviewQueue()
    with ctx.vault.writer("dataset") as writer:
        for redacted, report in _redacted(job, batches, workers):
            review.add(rows, report.pop("marks", []))  # its rows count from those stored
            reports.append(report)
            for record in redacted:
                line = json.dumps(record, ensure_ascii=False, sort_keys=True).encode() + b"\n"
                hasher.update(line)
                writer.write(line)
                rows += 1
        if rows == 0:  # say which field and why, counted: "3 of 3 dropped: 3 missing 'label'"
            raise InvalidInput(nothing_left(sum(r["records_dropped_pii"] for r in reports)))
        object_id = writer.object_id
    return object_id, rows, hasher.hexdigest(), merge_reports(reports, review)


def _redacted(
    job: RedactionJob, batches: Iterable[list[dict[str, Any]]], workers: int | None
) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
    if not workers:
        for batch in batches:
            yield redact_batch(job, batch)
        return
    context = get_context("spawn")  # never fork a process that may hold torch threads
    with ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker,
                             initargs=(job,)) as pool:
        window: list[Future[tuple[list[dict[str, Any]], dict[str, Any]]]] = []
        for batch in batches:
            window.append(pool.submit(redact_batch, None, batch))
            if len(window) >= workers * 3:
                yield window.pop(0).result()
        for future in window:
            yield future.result()


def _existing(
    ctx: Context, name: str, content_hash: str
) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Datasets with this name, and those whose stored content has this hash (not deleted)."""
    named = ctx.conn.execute("SELECT dataset_id FROM datasets WHERE name=? AND state!='DELETED'"
                             " ORDER BY created_at, dataset_id", (name,)).fetchall()
    same = ctx.conn.execute("SELECT dataset_id, name, state FROM datasets WHERE content_hash=?"
                            " AND state!='DELETED' ORDER BY created_at, dataset_id",
                            (content_hash,)).fetchall()
    return ([r["dataset_id"] for r in named],
            [(r["dataset_id"], r["name"], r["state"]) for r in same])


def _register(
    ctx: Context, principal: Principal, dataset_id: str, name: str, fmt: str, spec: DatasetSpec,
    rows: int, content_hash: str, object_id: str, report_id: str, action: Action,
) -> None:
    now = ctx.now()
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO datasets(dataset_id, name, state, task, spec, classification,"
            " source_format, row_count, content_hash, object_id, report_object_id, uploaded_by,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (dataset_id, name, STATE_PENDING, spec.task, spec.model_dump_json(),
             spec.classification, fmt, rows, content_hash, object_id, report_id,
             principal.name, now, now),
        )
        action.complete()  # in the same transaction: a crash cannot leave it stored yet "aborted"


__all__ = ["IngestResult", "ingest_stream", "new_dataset_id"]
