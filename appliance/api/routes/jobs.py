"""``/v1/jobs``: start, list, show, cancel, resume, metrics, and logs as server-sent events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from sse_starlette import EventSourceResponse

from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import CONFLICT, NOT_FOUND, responses
from appliance.api.schemas import Job, JobMetrics
from appliance.api.streams import event_response, job_events
from appliance.training import jobs
from appliance.training.config import JobConfig

router = APIRouter(prefix="/v1/jobs", tags=["jobs"],
                   dependencies=[Depends(reject_unknown_query)])
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Job,
             responses=responses(NOT_FOUND, CONFLICT))
def create_job(request: Request, ctx: ContextDep, user: CurrentUser, config: JobConfig) -> Any:
    """Queue a training job on approved datasets and start its worker process."""
    job = jobs.submit_job(ctx, user, config)
    if request.app.state.start_job_workers:
        jobs.start_worker(ctx, job.job_id)
    return job.as_dict()


@router.get("", response_model=list[Job], responses=responses())
def list_jobs(
    ctx: ContextDep, user: CurrentUser,
    state: Annotated[str | None, Query(
        pattern="^(QUEUED|RUNNING|INTERRUPTED|SUCCEEDED|FAILED|CANCELLED)$")] = None,
) -> list[Any]:
    """List jobs, optionally in one state."""
    return [j.as_dict() for j in jobs.list_jobs(ctx, user, state)]


@router.get("/{job_id}", response_model=Job, responses=responses(NOT_FOUND))
def show_job(ctx: ContextDep, user: CurrentUser, job_id: str) -> Any:
    """One job: configuration, state, progress, metrics."""
    return jobs.get_job(ctx, user, job_id).as_dict()


@router.post("/{job_id}/cancel", response_model=Job, responses=responses(NOT_FOUND, CONFLICT))
def cancel_job(ctx: ContextDep, user: CurrentUser, job_id: str) -> Any:
    """Cancel a job (a running one stops after saving a checkpoint)."""
    return jobs.cancel_job(ctx, user, job_id).as_dict()


@router.post("/{job_id}/resume", response_model=Job, responses=responses(NOT_FOUND, CONFLICT))
def resume_job(request: Request, ctx: ContextDep, user: CurrentUser, job_id: str) -> Any:
    """Resume an interrupted job (its worker is gone) from its last checkpoint."""
    return jobs.resume_job(ctx, user, job_id,
                           start_worker_process=request.app.state.start_job_workers).as_dict()


@router.get("/{job_id}/metrics", response_model=JobMetrics, responses=responses(NOT_FOUND))
def get_job_metrics(ctx: ContextDep, user: CurrentUser, job_id: str) -> Any:
    """Live progress, and the validation and test metrics once finished."""
    job = jobs.get_job(ctx, user, job_id)
    return {"job_id": job.job_id, "state": job.state, "progress": job.progress,
            "metrics": job.metrics}


@router.get("/{job_id}/logs", response_class=EventSourceResponse,
            responses={**responses(NOT_FOUND),
                       200: {"description": "Server-sent events: log, progress, end.",
                             "content": SSE}})
def stream_job_logs(
    request: Request, ctx: ContextDep, user: CurrentUser, job_id: str,
    after: Annotated[int, Query(ge=0, le=2**53, description="Last log seq already seen.")] = 0,
    follow: Annotated[bool, Query(description="Keep streaming until the job ends.")] = True,
) -> EventSourceResponse:
    """Log lines and progress as server-sent events (``Last-Event-ID`` resumes a stream)."""
    resume = request.headers.get("last-event-id", "")
    cursor = int(resume) if resume.isdigit() else after
    first = jobs.job_logs(ctx, user, job_id, after_seq=cursor)  # authorized and audited, once
    return event_response(
        job_events(ctx, job_id, first, request.app.state.curves, follow=follow))
