"""Console pages for datasets: the list, the review queue, a dataset with its redaction report,
redacted samples, and review decisions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import datasets as ds
from appliance.api.deps import ContextDep
from appliance.api.web.charts import entity_bars
from appliance.api.web.console import ConsoleDep, FormDep, can, redirect, render
from appliance.errors import InvalidInput

router = APIRouter(include_in_schema=False)
STATES = (ds.PENDING, ds.APPROVED, ds.REJECTED, ds.REVOKED, ds.DELETED)
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
                n: int = 20) -> Response:
    """Redacted records, for review (each view is an audited read)."""
    info = ds.show_dataset(ctx, console.principal, dataset_id)
    records = ds.sample_records(ctx, console.principal, dataset_id, max(1, min(n, 100)))
    fields = sorted({key for record in records for key in record})
    return render(request, "sample.html", console, dataset=info, records=records, fields=fields,
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
    info = REVIEWS[decision](ctx, console.principal, dataset_id, reason[:2000])
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
