"""``/v1/datasets``: upload, list, show, report, sample, review, delete.

Every handler is one call into :mod:`appliance.datasets`, which asks the policy and audits.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request, status

from appliance import datasets as ds
from appliance.api.deps import ContextDep, CurrentUser, get_pool, reject_unknown_query
from appliance.api.problem import BAD_INPUT, CONFLICT, NOT_FOUND, TOO_LARGE, responses
from appliance.api.schemas import (
    Dataset,
    Ingested,
    Report,
    Review,
    ReviewQueue,
    Sample,
    State,
)
from appliance.api.upload import body_stream
from appliance.datasets import review
from appliance.datasets.parse import Format
from appliance.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/v1/datasets", tags=["datasets"],
                   dependencies=[Depends(reject_unknown_query)])

MEDIA_FORMATS = {"application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
                 "application/json-lines": "jsonl", "text/csv": "csv"}
UPLOAD_BODY = {
    "required": True,
    "description": "The records: JSON Lines (one object per line) or CSV with a header row.",
    "content": {
        "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    },
}
Operator = Literal["placeholder", "mask", "pseudonym", "drop_record"]
Classification = Literal["public", "internal", "confidential", "restricted"]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=Ingested,
    responses=responses(BAD_INPUT, TOO_LARGE),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def upload_dataset(
    request: Request,
    ctx: ContextDep,
    user: CurrentUser,
    name: Annotated[str, Query(min_length=1, max_length=200, description="Dataset name.")],
    format: Annotated[Literal["jsonl", "csv"] | None, Query(
        description="Default: from the Content-Type, else from the name's extension.")] = None,
    spec: Annotated[str | None, Query(
        description="A full dataset spec as a JSON object; the flags below override it.")] = None,
    task: Literal["raw", "classification", "sft", "preference"] | None = None,
    text_field: str | None = None,
    label_field: str | None = None,
    prompt_field: Annotated[str | None, Query(
        description="The prompt (sft; preference: a text or a list of {role, content} turns, "
        "contents redacted, roles kept).")] = None,
    response_field: Annotated[str | None, Query(
        description="The response (sft; preference, rated).")] = None,
    chosen_field: Annotated[str | None, Query(
        description="Preference, pairwise: the preferred answer (redacted).")] = None,
    rejected_field: Annotated[str | None, Query(
        description="Preference, pairwise: the worse answer (redacted).")] = None,
    responses_field: Annotated[str | None, Query(
        description="Preference, ranked: a list of answers (each redacted).")] = None,
    ranking_field: Annotated[str | None, Query(
        description="Preference, ranked: indices into the responses, best first (kept as "
        "given).")] = None,
    rating_field: Annotated[str | None, Query(
        description="Preference, rated: true/false, up/down or a number (kept as "
        "given).")] = None,
    redact_field: Annotated[list[str] | None, Query()] = None,
    keep_field: Annotated[list[str] | None, Query(
        description="Fields stored as given (labels, ids); every other field is redacted. "
        "The label field is always kept.")] = None,
    drop_field: Annotated[list[str] | None, Query()] = None,
    operator: Operator | None = None,
    redact: bool = True,
    classification: Classification | None = None,
    lowercase: bool = False,
) -> Ingested:
    """Upload records (streamed): parse, clean, redact, encrypt; store as PENDING_REVIEW."""
    limit = get_pool(request).settings.max_upload_bytes
    declared = _content_length(request)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"upload of {declared} bytes is over the limit of {limit} bytes; "
                              "nothing was stored")
    parsed = ds.parse_spec(_spec_data(spec, {
        "task": task, "text_field": text_field, "label_field": label_field,
        "prompt_field": prompt_field, "response_field": response_field,
        "chosen_field": chosen_field, "rejected_field": rejected_field,
        "responses_field": responses_field, "ranking_field": ranking_field,
        "rating_field": rating_field,
        "classification": classification, "default_operator": operator,
    }, redact_field, keep_field, drop_field, redact, lowercase))
    fmt = _format(request, name, format)
    stream = body_stream(request.stream(), limit)

    def run() -> ds.IngestResult:
        with stream:
            return ds.ingest_stream(ctx, user, stream, name=name, source_name=name, fmt=fmt,
                                    spec=parsed, total_bytes=declared)

    # Uploads parse, redact and encrypt on worker threads, a few at a time (see api/main.py).
    result = await anyio.to_thread.run_sync(run, limiter=request.app.state.upload_slots)
    return Ingested(dataset_id=result.dataset_id, rows=result.rows,
                    content_hash=result.content_hash, state=ds.PENDING,
                    fields=result.report.get("fields", {}), warnings=result.warnings)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidInput("Content-Length is not a number")
    return int(value)


def _format(request: Request, name: str, explicit: str | None) -> Format:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ds.detect_format(name, explicit or MEDIA_FORMATS.get(media))


def _spec_data(
    spec: str | None, flags: dict[str, Any], redact_fields: list[str] | None,
    keep_fields: list[str] | None, drop_fields: list[str] | None, redact: bool, lowercase: bool,
) -> dict[str, Any]:
    """The same merge as ``appliance dataset ingest``: spec first, then the flags."""
    data: dict[str, Any] = {}
    if spec:
        try:
            data = json.loads(spec)
        except ValueError as exc:
            raise InvalidInput(f"spec is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("spec must be a JSON object")
    data.update({k: v for k, v in flags.items() if v is not None})
    for key, values in (("redact_fields", redact_fields), ("keep_fields", keep_fields),
                        ("drop_fields", drop_fields)):
        if values:
            data[key] = [*data.get(key, []), *values]
    if not redact:
        data["redact"] = False
    if lowercase:
        cleaning = data.setdefault("cleaning", {})
        if not isinstance(cleaning, dict):
            raise InvalidInput("spec.cleaning must be a JSON object")
        cleaning["lowercase"] = True
    if "task" not in data and (flags["text_field"] or flags["label_field"]):
        data["task"] = "classification"
    return data


@router.get("", response_model=list[Dataset], responses=responses())
def list_datasets(ctx: ContextDep, user: CurrentUser, state: State | None = None) -> list[Any]:
    """List datasets (metadata only), optionally in one state."""
    return [i.as_dict() for i in ds.list_datasets(ctx, user, state)]


@router.get("/{dataset_id}", response_model=Dataset, responses=responses(NOT_FOUND))
def show_dataset(ctx: ContextDep, user: CurrentUser, dataset_id: str) -> Any:
    """Show one dataset's metadata."""
    return ds.show_dataset(ctx, user, dataset_id).as_dict()


@router.get("/{dataset_id}/report", response_model=Report, responses=responses(NOT_FOUND))
def get_report(ctx: ContextDep, user: CurrentUser, dataset_id: str) -> Any:
    """The redaction report: cleaning counts and PII entities per field."""
    return ds.get_report(ctx, user, dataset_id)


@router.get("/{dataset_id}/sample", response_model=Sample, responses=responses(NOT_FOUND))
def sample_dataset(
    ctx: ContextDep, user: CurrentUser, dataset_id: str,
    n: Annotated[int, Query(ge=1, le=100, description="How many records.")] = 10,
) -> Sample:
    """The first redacted records, for review (an audited read of contents)."""
    return Sample(dataset_id=dataset_id, records=ds.sample_records(ctx, user, dataset_id, n))


@router.get("/{dataset_id}/review-queue", response_model=ReviewQueue,
            responses=responses(NOT_FOUND))
def review_queue(
    ctx: ContextDep, user: CurrentUser, dataset_id: str,
    n: Annotated[int, Query(ge=1, le=200, description="How many replacements.")] = 50,
) -> ReviewQueue:
    """The lowest-scored replacements first, each in its redacted context (reads the report and,
    in one audited sample read, the records involved)."""
    queue = review.low_confidence(ctx, user, dataset_id, n)
    return ReviewQueue(dataset_id=dataset_id, redactions=[m.as_dict() for m in queue])


@router.post("/{dataset_id}/approve", response_model=Dataset,
             responses=responses(NOT_FOUND, CONFLICT))
def approve_dataset(ctx: ContextDep, user: CurrentUser, dataset_id: str, review: Review) -> Any:
    """Approve a dataset for training (restricted data needs two approvers)."""
    return ds.approve_dataset(ctx, user, dataset_id, review.reason).as_dict()


@router.post("/{dataset_id}/reject", response_model=Dataset,
             responses=responses(NOT_FOUND, CONFLICT))
def reject_dataset(ctx: ContextDep, user: CurrentUser, dataset_id: str, review: Review) -> Any:
    """Reject a dataset under review."""
    return ds.reject_dataset(ctx, user, dataset_id, review.reason).as_dict()


@router.post("/{dataset_id}/revoke", response_model=Dataset,
             responses=responses(NOT_FOUND, CONFLICT))
def revoke_dataset(ctx: ContextDep, user: CurrentUser, dataset_id: str, review: Review) -> Any:
    """Revoke an approved dataset: no further training reads."""
    return ds.revoke_dataset(ctx, user, dataset_id, review.reason).as_dict()


@router.delete("/{dataset_id}", response_model=Dataset, responses=responses(NOT_FOUND, CONFLICT))
def delete_dataset(ctx: ContextDep, user: CurrentUser, dataset_id: str) -> Any:
    """Crypto-shred a dataset's contents; its metadata stays, marked DELETED."""
    return ds.delete_dataset(ctx, user, dataset_id).as_dict()
