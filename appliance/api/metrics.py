"""Prometheus metrics (``prometheus_client``), in a registry of each app's own.

Request counts and latencies are kept in memory per process, labelled by the route *template*
(``/v1/datasets/{dataset_id}``) so that ids never become label values. Datasets and jobs by state
are counted from the database at scrape time; audit appends are counted by the process's audit
log wrapper (see :mod:`appliance.api.runtime`); generation (answers, tokens, and the personal data
the output guard found, by entity type) by the routes that generate. Aggregate counts only: no
ids, no names, no contents.

Where they are served (docs/api.md, "Metrics"): on the API port only with the scrape token
(``Authorization: Bearer``, its SHA-256 in ``settings.metrics_token_hash``; no token configured
means no metrics there), and, when ``settings.metrics_port`` is set, without a token on
127.0.0.1 at that port, for a scraper on the same host. Counts of jobs and datasets by state
are not secrets, but nothing about the appliance is served to whoever asks.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.api.deps import ContextDep, bearer, client_address
from appliance.api.problem import RateLimited, responses
from appliance.api.ratelimit import FailureLimiter
from appliance.errors import AuthenticationFailed

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_HOST = "127.0.0.1"  # the scrape port is never bound anywhere else

router = APIRouter(tags=["service"])


class RequestMetrics:
    """The app's registry: a request counter and a latency histogram per (method, route)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("appliance_http_requests", "HTTP requests handled, by route and "
                                "status.", ["method", "route", "status"], registry=self.registry)
        self.duration = Histogram("appliance_http_request_duration_seconds", "Time to handle a "
                                  "request.", ["method", "route"], buckets=BUCKETS,
                                  registry=self.registry)

        self.generation_pii = Counter(
            "appliance_generation_pii", "Personal data the output guard found in generated "
            "text, by entity type and what it did (redacted, withheld).", ["entity", "action"],
            registry=self.registry)
        self.generated_tokens = Counter(
            "appliance_generated_tokens", "Tokens of generation: prompts read, answers written.",
            ["kind"], registry=self.registry)
        self.generations = Counter(
            "appliance_generations", "Answers generated, by delivery (batch, stream) and how "
            "they ended (stop, length, withheld, disconnected).", ["mode", "finish"],
            registry=self.registry)

    def observe_generation(self, answers: Iterable[Any], mode: str) -> None:
        """Count answers (``chat.Answer``): their tokens, and what the guard found in them."""
        for answer in answers:
            self.generations.labels(mode, answer.finish).inc()
            self.generated_tokens.labels("prompt").inc(answer.prompt_tokens)
            self.generated_tokens.labels("output").inc(answer.output_tokens)
            action = "withheld" if answer.withheld else "redacted"
            for entity, n in answer.pii.items():
                self.generation_pii.labels(entity, action).inc(n)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Datasets and jobs by state, and audit appends, read at each scrape."""

    def __init__(self, pool: Callable[[], Any]) -> None:
        self._pool = pool  # the app's ContextPool, opened only when the app starts

    def collect(self) -> Iterable[Metric]:
        pool = self._pool()
        with pool.lease() as ctx:
            counts = {table: _by_state(ctx, table) for table in ("datasets", "jobs")}
        for table, what in (("datasets", "Datasets by lifecycle state."),
                            ("jobs", "Training jobs by state.")):
            family = GaugeMetricFamily(f"appliance_{table}", what, labels=["state"])
            for state, n in sorted(counts[table].items()):
                family.add_metric([state], n)
            yield family
        yield CounterMetricFamily("appliance_audit_appends", "Audit events appended by this "
                                  "process.", value=pool.audit.appends)


def _by_state(ctx: Any, table: str) -> dict[str, int]:
    rows = ctx.conn.execute(f"SELECT state, count(*) AS n FROM {table} GROUP BY state")  # noqa: S608
    return {str(r["state"]): int(r["n"]) for r in rows}


def serve_scrape_port(metrics: RequestMetrics, port: int) -> Callable[[], None]:
    """Serve the registry on 127.0.0.1:port (a prometheus_client thread); returns its stop."""
    server, thread = start_http_server(port, addr=METRICS_HOST, registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop


def check_scrape_token(request: Request, ctx: ContextDep,
                       credentials: Annotated[HTTPAuthorizationCredentials | None,
                                              Depends(bearer)]) -> None:
    """The scrape token, rate-limited and audited on failure as any other token is."""
    token = credentials.credentials if credentials else None
    limiter: FailureLimiter = request.app.state.limiter
    client = client_address(request)
    refusal = limiter.refusal(client, token)
    if refusal:
        raise RateLimited(f"too many failed authentication attempts; retry in {refusal.wait}s",
                          retry_after=refusal.wait)
    expected = ctx.settings.metrics_token_hash
    if not expected:
        reason = ("metrics on this port need the scrape token and none is configured: run "
                  "'appliance metrics-token', or set metrics_port to scrape on loopback")
    elif not token:
        reason = "no scrape token given (Authorization: Bearer <token>)"
    elif not hmac.compare_digest(hashlib.sha256(token.encode("utf-8")).hexdigest(), expected):
        reason = "wrong scrape token"
    else:
        limiter.record_success(token)
        return
    limiter.record_failure(client, token)
    ctx.audit.append(
        actor="anonymous", role="none", action="auth.login", resource="channel:metrics",
        purpose="authentication", decision="deny", reasons=[reason],
        policy_hash=ctx.policy.policy_hash, details={"channel": "metrics"})
    raise AuthenticationFailed(f"authentication failed: {reason}")


@router.get("/metrics", response_class=Response, dependencies=[Depends(check_scrape_token)],
            responses={**responses(),
                       200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
                             "description": "Prometheus text format."}})
def get_metrics(request: Request) -> Response:
    """Prometheus metrics (scrape token): requests, latencies, datasets and jobs by state."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


class MetricsMiddleware:
    """Pure ASGI middleware: times each HTTP request until its last body byte is sent."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            self.metrics.observe(scope["method"], _route_of(scope), status,
                                 time.perf_counter() - start)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "unmatched"
