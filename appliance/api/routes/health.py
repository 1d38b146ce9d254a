"""Liveness and readiness (unauthenticated; no identifiers in them). Metrics: api/metrics.py."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from appliance.api.deps import ContextDep
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
