"""Console pages for training: jobs (start, follow live, cancel), models (metrics, confusion
matrix, card), and exports (request, approve or reject with the model card, download)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import datasets as ds
from appliance.api.deps import ContextDep
from appliance.api.routes.exports import download_export as download_bundle
from appliance.api.streams import event_response, job_events, progress_event
from appliance.api.web.charts import LineChart, heat_class, line_chart
from appliance.api.web.console import ConsoleDep, FormDep, can, redirect, render
from appliance.errors import InvalidInput
from appliance.training import export, jobs, models
from appliance.training.config import parse_job_config
from appliance.training.metrics import card_intervals
from appliance.training.registry import list_base_models
from appliance.training.tasks import task_names

router = APIRouter(include_in_schema=False)
#: Tasks the model page's try box serves: text in, label and score out; or prompt in, completion.
TRYABLE = ("classification", "sft")
NUMBERS = {"epochs": float, "learning_rate": float, "time_budget_s": float, "batch_size": int}


@router.get("/jobs")
def list_jobs(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Jobs, newest first, and the form that starts one."""
    items = sorted(jobs.list_jobs(ctx, console.principal), key=lambda j: j.created_at,
                   reverse=True)
    may_start = can(ctx, console.principal, "job.create", {"type": "job", "id": "new"},
                    "training")
    approved = ds.list_datasets(ctx, console.principal, ds.APPROVED) if may_start else []
    rewards = [m for m in models.list_models(ctx, console.principal) if m.task == "reward"] if (
        may_start) else []
    return render(request, "jobs.html", console, jobs=items, may_start=may_start,
                  datasets=approved, tasks=task_names(), reward_models=rewards,
                  bases=[b.name for b in list_base_models(ctx)] if may_start else [],
                  title="Jobs")


@router.post("/jobs")
def start_job(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep) -> Response:
    """Queue a job from the form and start its worker."""
    config: dict[str, Any] = {
        "task": str(form.get("task", "")),
        "dataset_ids": [str(v) for v in form.getlist("dataset_ids")],
        "method": str(form.get("method", "auto")),
    }
    if not config["dataset_ids"]:
        raise InvalidInput("choose at least one approved dataset to train on")
    for name in ("base_model", "reward_model"):
        if form.get(name):
            config[name] = str(form.get(name))
    for name, kind in NUMBERS.items():
        value = str(form.get(name, "")).strip()
        if value:
            try:
                config[name] = kind(value)
            except ValueError:
                raise InvalidInput(f"{name.replace('_', ' ')} must be a number") from None
    job = jobs.submit_job(ctx, console.principal, parse_job_config(config))
    if request.app.state.start_job_workers:
        jobs.start_worker(ctx, job.job_id)
    return redirect(f"/jobs/{job.job_id}", console, f"Job {job.job_id} queued.")


@router.get("/jobs/{job_id}")
def show_job(request: Request, ctx: ContextDep, console: ConsoleDep, job_id: str) -> Response:
    """A job: live progress, loss curve, log; its model once it succeeded."""
    job = jobs.get_job(ctx, console.principal, job_id)
    lines = jobs.job_logs(ctx, console.principal, job_id)
    chart = loss_chart(job.metrics, request.app.state.curves.points(job))
    may_cancel = not job.finished and can(
        ctx, console.principal, "job.cancel",
        {"type": "job", "id": job_id, "state": job.state, "created_by": job.created_by},
        "training")
    return render(request, "job.html", console, job=job, lines=lines, chart=chart,
                  live=progress_event(job), may_cancel=may_cancel, title=f"Job {job_id}")


@router.get("/jobs/{job_id}/events")
def stream_job(request: Request, ctx: ContextDep, console: ConsoleDep,
               job_id: str) -> Response:
    """The job page's live feed (server-sent events), authorized once when it opens."""
    resume = request.headers.get("last-event-id", "")
    first = jobs.job_logs(ctx, console.principal, job_id,
                          after_seq=int(resume) if resume.isdigit() else 0)
    return event_response(job_events(ctx, job_id, first, request.app.state.curves))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(ctx: ContextDep, console: ConsoleDep, form: FormDep, job_id: str) -> Response:
    """Ask the job to stop (it saves a checkpoint first)."""
    job = jobs.cancel_job(ctx, console.principal, job_id)
    return redirect(f"/jobs/{job_id}", console, f"Cancel requested; the job is {job.state}.")


@router.get("/models")
def list_models(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Trained models and their test scores."""
    items = sorted(models.list_models(ctx, console.principal), key=lambda m: m.created_at,
                   reverse=True)
    return render(request, "models.html", console, models=items, title="Models")


@router.get("/models/{model_id}")
def show_model(request: Request, ctx: ContextDep, console: ConsoleDep,
               model_id: str) -> Response:
    """A model's card: metrics, confusion matrix, data, hyperparameters."""
    return _model_page(request, ctx, console, model_id)


@router.post("/models/{model_id}/try")
def try_model(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep,
              model_id: str) -> Response:
    """Classify a text or complete a prompt, through the same audited path as ``model predict``
    and ``model generate`` (``model.predict``: the policy decides, the audit log records)."""
    text = str(form.get("text", ""))
    info = models.load_model_info(ctx, model_id)
    if info.task == "sft":
        tokens = str(form.get("max_new_tokens", "") or "64").strip()
        if not tokens.isdigit():
            raise InvalidInput("max new tokens must be a whole number")
        result: dict[str, Any] = {"completion": models.generate(
            ctx, console.principal, model_id, text, int(tokens))}
    else:
        result = models.predict(ctx, console.principal, model_id, [text])[0]
    return _model_page(request, ctx, console, model_id, tried=text, result=result)


def _model_page(request: Request, ctx: ContextDep, console: ConsoleDep, model_id: str,
                **extra: Any) -> Response:
    model = models.show_model(ctx, console.principal, model_id)
    may_export = can(ctx, console.principal, "model.export.request", model.resource(), "export")
    may_try = model.task in TRYABLE and can(ctx, console.principal, "model.predict",
                                            model.resource(), "inference")
    return render(request, "model.html", console, model=model, card=model.card,
                  matrix=_matrix(model.card), curve=_model_chart(model.card),
                  intervals=card_intervals(model.card), may_export=may_export,
                  may_try=may_try, title=f"Model {model_id}", **extra)


@router.post("/models/{model_id}/exports")
def request_export(ctx: ContextDep, console: ConsoleDep, form: FormDep,
                   model_id: str) -> Response:
    """Build and sign a bundle for compliance to approve: a generative LoRA model's adapter
    alone, or (``contents=merged``) the model with the adapter merged in."""
    contents = str(form.get("contents", "") or "adapter")
    if contents not in ("adapter", "merged"):
        raise InvalidInput(f"unknown bundle contents {contents!r}: adapter or merged")
    info = export.request_export(ctx, console.principal, model_id, merged=contents == "merged")
    return redirect("/exports", console, f"Export {info.export_id} requested; it needs a "
                    "compliance approval before it can be downloaded.")


@router.get("/exports")
def list_exports(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Export requests; compliance decides here, with each model's card at hand."""
    items = sorted(export.list_exports(ctx, console.principal), key=lambda e: e.created_at,
                   reverse=True)
    cards = {e.model_id: models.load_model_info(ctx, e.model_id) for e in items}
    allowed = {e.export_id: {
        "approve": can(ctx, console.principal, "model.export.approve", e.resource(), "export"),
        "download": can(ctx, console.principal, "model.export.download", e.resource(), "export"),
    } for e in items}
    matrices = {model_id: _matrix(info.card) for model_id, info in cards.items()}
    intervals = {model_id: card_intervals(info.card) for model_id, info in cards.items()}
    return render(request, "exports.html", console, exports=items, cards=cards, allowed=allowed,
                  matrices=matrices, intervals=intervals, title="Exports")


@router.post("/exports/{export_id}/review")
def review_export(ctx: ContextDep, console: ConsoleDep, form: FormDep,
                  export_id: str) -> Response:
    """Approve or reject an export, with a reason."""
    decision, reason = str(form.get("decision", "")), str(form.get("reason", "")).strip()
    if decision not in ("approve", "reject"):
        raise InvalidInput(f"unknown decision {decision!r}")
    if not reason:
        raise InvalidInput(f"say why you {decision} this export: the reason is kept with it")
    decide = export.approve_export if decision == "approve" else export.reject_export
    info = decide(ctx, console.principal, export_id, reason[:2000])
    return redirect("/exports", console, f"Export {info.export_id} is now {info.state}.")


@router.get("/exports/{export_id}/bundle")
def download_export(ctx: ContextDep, console: ConsoleDep, export_id: str) -> Response:
    """Download an approved bundle (its requester only)."""
    return download_bundle(ctx, console.principal, export_id)


def _matrix(card: dict[str, Any]) -> dict[str, Any] | None:
    found = card.get("metrics", {}).get("test", {}).get("confusion_matrix")
    if not found or not found.get("labels"):
        return None
    rows = []
    for label, counts in zip(found["labels"], found["matrix"], strict=False):
        total = sum(counts)
        rows.append({"label": label, "total": total,
                     "cells": [(n, heat_class(n, total)) for n in counts]})
    return {"labels": found["labels"], "rows": rows}


LOSS_LABELS = {"train": "training loss", "eval": "validation loss",
               "reward": "mean reward of the sampled answers (RL)"}


def loss_chart(metrics: dict[str, Any], seen: list[tuple[float, float]]) -> LineChart:
    """The loss curve kept with the job (training loss every logging step, validation loss at
    each evaluation); for a job that kept none, what the live streams saw."""
    curve = (metrics or {}).get("train", {}).get("curve") or []
    train = _points(curve, "loss")
    if not train and not _points(curve, "eval_loss"):
        train = seen
    series = {"train": train, "eval": _points(curve, "eval_loss")}
    if _points(curve, "reward"):  # RL: its loss is zero in value; the reward is the curve
        series["reward"] = _points(curve, "reward")
    return line_chart(series, labels=LOSS_LABELS)


def _points(items: list[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    return [(float(p["step"]), float(p[key])) for p in items
            if isinstance(p.get("step"), int | float) and isinstance(p.get(key), int | float)]


def _model_chart(card: dict[str, Any]) -> LineChart | None:
    """The model's loss curve; cards made before curves were kept have the loss at each
    evaluation only."""
    train = card.get("metrics", {}).get("train", {})
    if train.get("curve"):
        return loss_chart(card["metrics"], [])
    points = _points(train.get("history", []), "loss")
    return line_chart(points, labels=LOSS_LABELS) if len(points) >= 2 else None
