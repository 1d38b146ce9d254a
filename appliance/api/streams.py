"""Server-sent events for a training job: progress, log lines, and the end (WHATWG HTML, SSE).

A stream is authorized and audited once, when it opens (the route calls
:func:`appliance.training.jobs.job_logs`, which asks the policy and writes the event); the
follow-up polls read the job's row and its new log lines directly, so a browser watching a job for
an hour leaves one ``job.read`` event, not 3600. Job rows and log lines are metadata written by
the worker (states, step counts, losses), never record contents.

Each poll runs on a worker thread with the request's own connection. The loss curve seen by any
stream is remembered per job (:class:`LossCurves`), so a page opened later still draws the curve
so far. Framing, keep-alive comments and disconnects are sse-starlette's
(:func:`event_response`); the events are ``log`` (with the line's ``seq`` as the event id, so
``Last-Event-ID`` resumes), ``progress`` and ``end``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio
from cachetools import LRUCache
from sse_starlette import EventSourceResponse, ServerSentEvent

from appliance.context import Context
from appliance.training import jobs

POLL_S = 1.0
KEEPALIVE_S = 15.0
MAX_POINTS = 2000
MAX_JOBS = 200


class LossCurves:
    """(step, training loss) points per job, as observed by streams; bounded in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # the jobs streamed most recently (cachetools' LRU; every access holds the lock)
        self._curves: LRUCache[str, list[tuple[float, float]]] = LRUCache(MAX_JOBS)

    def observe(self, job: jobs.JobInfo) -> None:
        step, loss = job.progress.get("step"), job.progress.get("loss")
        if not isinstance(step, int | float) or not isinstance(loss, int | float):
            return
        with self._lock:
            points = self._curves.get(job.job_id)
            if points is None:
                points = self._curves[job.job_id] = []
            if not points or step > points[-1][0]:
                points.append((float(step), float(loss)))
                del points[:-MAX_POINTS]

    def points(self, job: jobs.JobInfo) -> list[tuple[float, float]]:
        """What streams saw, else (a finished job) the loss at each evaluation."""
        with self._lock:
            seen = list(self._curves.get(job.job_id, []))
        if len(seen) >= 2:
            return seen
        history = job.metrics.get("train", {}).get("history", []) if job.metrics else []
        number = int | float
        return [(float(h["step"]), float(h["loss"])) for h in history
                if isinstance(h.get("step"), number) and isinstance(h.get("loss"), number)]


def sse(event: str, data: dict[str, Any], event_id: int | None = None) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, sort_keys=True), event=event,
                           id=None if event_id is None else str(event_id), sep="\n")


def event_response(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """The stream as a response: a keep-alive comment every ``KEEPALIVE_S`` so proxies keep the
    connection, never cached, not buffered by nginx (sse-starlette sets both headers)."""
    return EventSourceResponse(events, ping=KEEPALIVE_S, sep="\n")


def progress_event(job: jobs.JobInfo) -> dict[str, Any]:
    total, step = job.progress.get("total"), job.progress.get("step")
    fraction = step / total if isinstance(step, int | float) and total else None
    return {"job_id": job.job_id, "state": job.state, "progress": job.progress,
            "fraction": fraction, "model_id": job.model_id, "error": job.error}


async def job_events(ctx: Context, job_id: str, first_lines: list[dict[str, Any]],
                     curves: LossCurves, *, follow: bool = True
                     ) -> AsyncIterator[ServerSentEvent]:
    """The stream: log lines since the cursor, progress on change, ``end`` when finished."""
    after = 0
    for line in first_lines:
        after = int(line["seq"])
        yield sse("log", line, after)
    last_progress: str | None = None
    while True:
        job, lines = await anyio.to_thread.run_sync(_poll, ctx, job_id, after)
        curves.observe(job)
        for line in lines:
            after = int(line["seq"])
            yield sse("log", line, after)
        current = progress_event(job)
        encoded = json.dumps(current, sort_keys=True)
        if encoded != last_progress:
            last_progress = encoded
            yield sse("progress", current)
        if job.finished or not follow:
            yield sse("end", {"job_id": job.job_id, "state": job.state,
                              "model_id": job.model_id})
            return
        await anyio.sleep(POLL_S)


def _poll(ctx: Context, job_id: str, after: int) -> tuple[jobs.JobInfo, list[dict[str, Any]]]:
    # not jobs.job_logs: the stream was authorized and audited when it opened
    return jobs.load_job(ctx, job_id), jobs.log_lines_after(ctx, job_id, after)
