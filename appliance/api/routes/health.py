"""Liveness, readiness and Prometheus metrics (unauthenticated; no identifiers in them)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from appliance.api import metrics
from appliance.api.deps import ContextDep, get_pool
from appliance.api.schemas import Health, Readiness
from appliance.context import AUDIT_DIR, Context

router = APIRouter(tags=["service"])


@router.get("/healthz", response_model=Health)
def get_health() -> Health:
    """Liveness: the process is up and serving."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "A dependency is unavailable."}})
def get_readiness(ctx: ContextDep) -> JSONResponse:
    """Readiness: database, audit log and policy engine usable."""
    checks = {"database": _check_database(ctx), "audit_log": _check_audit(ctx),
              "policy": "ok" if ctx.policy.policy_hash else "no policy loaded"}
    ready = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _check_database(ctx: Context) -> str:
    try:
        ctx.conn.execute("SELECT 1").fetchone()
    except Exception as exc:  # any failure means not ready; say which
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_audit(ctx: Context) -> str:
    directory = ctx.settings.path(AUDIT_DIR)
    return "ok" if os.access(directory, os.W_OK) else f"{directory} is not writable"


@router.get("/metrics", response_class=PlainTextResponse,
            responses={200: {"content": {metrics.CONTENT_TYPE: {"schema": {"type": "string"}}},
                             "description": "Prometheus text format."}})
def get_metrics(request: Request, ctx: ContextDep) -> PlainTextResponse:
    """Prometheus metrics: requests, latencies, datasets and jobs by state, audit appends."""
    lines = list(_render(request, ctx))
    return PlainTextResponse("\n".join(lines) + "\n", media_type=metrics.CONTENT_TYPE)


def _render(request: Request, ctx: Context) -> Iterable[str]:
    yield from request.app.state.metrics.render()
    # Aggregate counts only: no ids, no names, no contents; so no gate and no audit event.
    yield from metrics.gauge("appliance_datasets", "Datasets by lifecycle state.",
                             _by_state(ctx, "datasets"), "state")
    yield from metrics.gauge("appliance_jobs", "Training jobs by state.",
                             _by_state(ctx, "jobs"), "state")
    yield from metrics.counter("appliance_audit_appends_total",
                               "Audit events appended by this process.",
                               get_pool(request).audit.appends)


def _by_state(ctx: Context, table: str) -> dict[str, int]:
    rows = ctx.conn.execute(f"SELECT state, count(*) AS n FROM {table} GROUP BY state")  # noqa: S608
    return {str(r["state"]): int(r["n"]) for r in rows}
