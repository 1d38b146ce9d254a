"""Console pages for datasets: the list, the review queue, a dataset with its redaction report,
redacted samples, and review decisions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from appliance import datasets as ds
from appliance.api.deps import ContextDep
from appliance.api.routes.datasets import upload_dataset as api_upload
from appliance.api.web.charts import entity_bars
from appliance.api.web.console import ConsoleDep, FormDep, FormRejected, can, redirect, render
from appliance.api.web.sessions import check_csrf
from appliance.datasets import review
from appliance.errors import InvalidInput

router = APIRouter(include_in_schema=False)
STATES = (ds.PENDING, ds.APPROVED, ds.REJECTED, ds.REVOKED, ds.DELETED)
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
UPLOAD_OPTIONS = {"name", "task", "text_field", "label_field", "prompt_field", "response_field",
                  "chosen_field", "rejected_field", "responses_field", "ranking_field",
                  "rating_field", "redact_field", "keep_field", "drop_field", "redact",
                  "classification", "lowercase"}
#: Records per sample page (the first is the default).
SAMPLE_SIZES = (20, 50, 100)
#: Replacements in the low-confidence queue (the report keeps up to redact.REVIEW_LOWEST).
QUEUE_SIZE = 100
REVIEWS = {"approve": ds.approve_dataset, "reject": ds.reject_dataset,
           "revoke": ds.revoke_dataset}


@router.get("/datasets")
def list_datasets(request: Request, ctx: ContextDep, console: ConsoleDep,
                  state: str | None = None) -> Response:
    """Every dataset's metadata, optionally in one state."""
    chosen = state if state in STATES else None
    items = ds.list_datasets(ctx, console.principal, chosen)
    return render(request, "datasets.html", console, datasets=items, state=chosen,
                  states=STATES, title="Datasets")


@router.get("/datasets/upload")
def show_upload(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """The upload form: a file and the same spec options as ``appliance dataset ingest``."""
    may_upload = can(ctx, console.principal, "dataset.ingest",
                     {"type": "dataset", "id": "new"}, "ingest")
    return render(request, "upload.html", console, may_upload=may_upload,
                  classifications=CLASSIFICATIONS, title="Upload a dataset")


@router.post("/datasets/upload")
async def upload_dataset(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """The form's file, streamed as the raw request body (never a multipart form: its parser
    spools large parts to temporary files, plaintext on disk) into the API's own upload
    handler, so options, limits and errors are the API's and the CLI's."""
    if not check_csrf(console.session, request.headers.get("x-csrf-token")):
        raise FormRejected("the form's security token is missing or stale; reload the page "
                           "and submit it again")
    query = request.query_params
    unknown = sorted(set(query) - UPLOAD_OPTIONS)
    if unknown:
        raise InvalidInput(f"unknown upload option {unknown[0]!r}")

    def one(key: str) -> str | None:
        value = query.get(key, "").strip()
        return value or None

    def many(key: str) -> list[str] | None:
        values = [v.strip() for item in query.getlist(key) for v in item.split(",") if v.strip()]
        return values or None

    name = one("name")
    if name is None:
        raise InvalidInput("choose a file to upload")
    result = await api_upload(
        request, ctx, console.principal, name=name, format=None, spec=None,
        task=one("task"),  # type: ignore[arg-type]  # parse_spec checks it, as for the CLI
        text_field=one("text_field"), label_field=one("label_field"),
        prompt_field=one("prompt_field"), response_field=one("response_field"),
        chosen_field=one("chosen_field"), rejected_field=one("rejected_field"),
        responses_field=one("responses_field"), ranking_field=one("ranking_field"),
        rating_field=one("rating_field"),
        redact_field=many("redact_field"), keep_field=many("keep_field"),
        drop_field=many("drop_field"), operator=None,
        redact=query.get("redact", "true") != "false",
        classification=one("classification"),  # type: ignore[arg-type]
        lowercase=query.get("lowercase") == "true")
    console.session.flash.append(f"Uploaded {name}: {result.rows} records stored encrypted, "
                                 "awaiting compliance review.")
    return JSONResponse({**result.model_dump(), "location": f"/datasets/{result.dataset_id}"},
                        status_code=201)


@router.get("/review")
def show_review_queue(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Datasets awaiting a compliance decision."""
    items = ds.list_datasets(ctx, console.principal, ds.PENDING)
    return render(request, "review.html", console, datasets=items, title="Review queue")


@router.get("/datasets/{dataset_id}")
def show_dataset(request: Request, ctx: ContextDep, console: ConsoleDep,
                 dataset_id: str) -> Response:
    """Metadata, the redaction report (for those allowed to read it) and the review form."""
    info = ds.show_dataset(ctx, console.principal, dataset_id)
    resource = info.resource()
    allowed = {verb: can(ctx, console.principal, f"dataset.{verb}", resource, purpose)
               for verb, purpose in (("report", "review"), ("read_sample", "review"),
                                     ("approve", "review"), ("reject", "review"),
                                     ("revoke", "review"), ("delete", "retention"))}
    report: dict[str, Any] | None = None
    if allowed["report"] and info.state != ds.DELETED:
        report = ds.get_report(ctx, console.principal, dataset_id)
    chart = entity_bars(report.get("entities_by_field", {})) if report else None
    return render(request, "dataset.html", console, dataset=info, report=report, chart=chart,
                  allowed=allowed, title=f"Dataset {info.name}")


@router.get("/datasets/{dataset_id}/sample")
def show_sample(request: Request, ctx: ContextDep, console: ConsoleDep, dataset_id: str,
                page: int = 1, size: int = SAMPLE_SIZES[0], order: str = "stored") -> Response:
    """A page of redacted records, for review (each page is one audited read), each replacement
    marked with its type and score; ``order=low-confidence``: the lowest-scored replacements
    first, each in its context (one audited read of the rows they are in)."""
    info = ds.show_dataset(ctx, console.principal, dataset_id)
    size = size if size in SAMPLE_SIZES else SAMPLE_SIZES[0]
    pages = max(1, -(-info.row_count // size))
    page = max(1, min(page, pages))
    offset = (page - 1) * size
    scored = can(ctx, console.principal, "dataset.report", info.resource(), "review")
    base = f"/datasets/{dataset_id}/sample"
    if order == "low-confidence" and scored:
        queue = review.low_confidence(ctx, console.principal, dataset_id, QUEUE_SIZE)
        return render(request, "sample_queue.html", console, dataset=info, queue=queue,
                      stored_url=base,
                      title=f"Lowest-confidence redactions of {info.name}")
    records = ds.sample_records(ctx, console.principal, dataset_id, size, offset)
    marks = (review.page_marks(ds.get_report(ctx, console.principal, dataset_id), offset,
                               len(records)) if scored else [{} for _ in records])
    fields = sorted({key for record in records for key in record})
    return render(request, "sample.html", console, dataset=info, records=records, fields=fields,
                  marks=marks, scored=scored, borderline=review.BORDERLINE,
                  queue_url=f"{base}?order=low-confidence",
                  page=page, pages=pages, size=size, sizes=SAMPLE_SIZES, first=offset + 1,
                  prev_url=f"{base}?{urlencode({'page': page - 1, 'size': size})}",
                  next_url=f"{base}?{urlencode({'page': page + 1, 'size': size})}",
                  title=f"Sample of {info.name}")


@router.post("/datasets/{dataset_id}/review")
def review_dataset(ctx: ContextDep, console: ConsoleDep, form: FormDep,
                   dataset_id: str) -> Response:
    """Approve, reject or revoke, with the reviewer's reason."""
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", "")).strip()
    if decision not in REVIEWS:
        raise InvalidInput(f"unknown decision {decision!r}")
    if not reason:
        raise InvalidInput(f"say why you {decision} this dataset: the reason is kept with it")
    info = REVIEWS[decision](ctx, console.principal, dataset_id, reason)  # kept redacted
    note = f"Dataset {info.name} is now {info.state}."
    if info.state == ds.PENDING and info.approvals:
        note += " Restricted data: a second compliance officer must approve it too."
    return redirect(f"/datasets/{dataset_id}", console, note)


@router.post("/datasets/{dataset_id}/delete")
def delete_dataset(ctx: ContextDep, console: ConsoleDep, form: FormDep,
                   dataset_id: str) -> Response:
    """Crypto-shred the dataset's contents."""
    info = ds.delete_dataset(ctx, console.principal, dataset_id)
    return redirect(f"/datasets/{dataset_id}", console,
                    f"Dataset {info.name} was deleted; its contents are unrecoverable.")
