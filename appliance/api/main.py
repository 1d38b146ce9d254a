"""The HTTP service: the ``/v1`` API, the web console, health and metrics, in one FastAPI app.

The app opens one :class:`~appliance.api.runtime.ContextPool` for the process (one Context, a
SQLite connection per in-flight request) and closes it after uvicorn has finished in-flight
requests on shutdown. No route serves anything from outside the appliance: there is no Swagger UI
(it loads from a CDN); the schema is at ``/openapi.json`` and the reference is docs/api.md.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import appliance
from appliance.api import metrics, problem, routes, web
from appliance.api.ratelimit import FailureLimiter
from appliance.api.routes import feedback as feedback_routes
from appliance.api.runtime import ContextPool
from appliance.api.security import SecurityHeadersMiddleware
from appliance.api.streams import LossCurves
from appliance.api.web.sessions import SessionStore

#: Uploads parse, redact and encrypt on worker threads; at most this many at once.
UPLOAD_SLOTS = 4


def create_app(home: str | Path | None = None, *, pool: ContextPool | None = None,
               limiter: FailureLimiter | None = None, tls: bool = False,
               start_job_workers: bool = True, metrics_port: int | None = None) -> FastAPI:
    """The ASGI app for a home (or for an already opened pool, in tests).

    ``start_job_workers``: start a worker process for each job created over the API, and at
    start-up for each job a crash interrupted; turn it off where a separate worker service runs
    (and recovers) queued jobs. ``metrics_port``: serve metrics without a token on 127.0.0.1 at
    this port (default: ``settings.metrics_port``; see api/metrics.py). ``limiter``: default, one
    built from the settings' failed-authentication limits.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = pool or ContextPool.open(home)
        settings = app.state.pool.settings
        if limiter is None:
            app.state.limiter = FailureLimiter(settings.auth_failures_per_client,
                                               settings.auth_failures_per_token)
        app.state.upload_slots = anyio.CapacityLimiter(UPLOAD_SLOTS)
        scrape_port = metrics_port or settings.metrics_port
        stop_scrape = metrics.serve_scrape_port(app.state.metrics, scrape_port) \
            if scrape_port else None
        if start_job_workers:
            _recover_jobs(app.state.pool)
        try:
            yield
        finally:
            if stop_scrape:
                stop_scrape()
            app.state.pool.close()

    app = FastAPI(title="Appliance API", version=appliance.__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, description=__doc__ or "")
    app.state.limiter = limiter or FailureLimiter()
    app.state.sessions = SessionStore()
    app.state.metrics = metrics.RequestMetrics()
    app.state.metrics.registry.register(metrics.StateCollector(lambda: app.state.pool))
    app.state.verification = web.audit.VerificationCache()
    app.state.curves = LossCurves()
    app.state.start_job_workers = start_job_workers
    app.state.render_problem = web.console.render_problem
    for error in problem.HANDLED:
        app.add_exception_handler(error, problem.handle_error)
    app.add_exception_handler(web.console.SignInRequired, web.console.sign_in_redirect)
    for router in (*routes.ROUTERS, feedback_routes.router, metrics.router, *web.ROUTERS):
        app.include_router(router)
    app.state.console_pages = {getattr(r, "path", "") for w in web.ROUTERS for r in w.routes}
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    app.add_middleware(SecurityHeadersMiddleware, tls=tls)
    app.add_middleware(metrics.MetricsMiddleware, metrics=app.state.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _recover_jobs(pool: ContextPool) -> None:
    """Restart the workers of jobs a crash left RUNNING (they resume from their last checkpoint,
    after a ``job.resume`` decision) and of QUEUED jobs whose worker died before claiming them.
    Only when this service starts job workers: a separate worker service recovers its own."""
    from appliance.feedback.generation import recover_campaigns
    from appliance.training.jobs import recover_jobs

    with pool.lease() as ctx:
        restarted = recover_jobs(ctx)
        restarted += recover_campaigns(ctx)  # feedback campaigns still GENERATING
    if restarted:
        print(f"restarted the workers of interrupted jobs and campaigns: {', '.join(restarted)}",
              file=sys.stderr, flush=True)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the problem document that every error response refers to."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = problem.Problem.model_json_schema(
            ref_template="#/components/schemas/{model}")
        app.openapi_schema = schema
    return app.openapi_schema
