"""Prometheus metrics in the text exposition format (version 0.0.4), written by hand.

``prometheus_client`` is not a dependency of the appliance; the format is small enough to write
directly. Request counts and latencies are kept in memory per process, labelled by the route
*template* (``/v1/datasets/{dataset_id}``) so that ids never become label values. Datasets and
jobs by state are counted from the database at scrape time; audit appends are counted by the
process's audit log wrapper (see :mod:`appliance.api.runtime`).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class RequestMetrics:
    """Counters and a latency histogram per (method, route)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str, str], int] = defaultdict(int)
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route)
        with self._lock:
            self.counts[(method, route, str(status))] += 1
            counts = self.buckets.setdefault(key, [0] * (len(BUCKETS) + 1))
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[key] += seconds

    def render(self) -> Iterable[str]:
        with self._lock:
            counts = dict(self.counts)
            buckets = {k: list(v) for k, v in self.buckets.items()}
            sums = dict(self.sums)
        yield "# HELP appliance_http_requests_total HTTP requests handled, by route and status."
        yield "# TYPE appliance_http_requests_total counter"
        for (method, route, status), n in sorted(counts.items()):
            labels = _labels(method=method, route=route, status=status)
            yield f"appliance_http_requests_total{labels} {n}"
        yield "# HELP appliance_http_request_duration_seconds Time to handle a request."
        yield "# TYPE appliance_http_request_duration_seconds histogram"
        for (method, route), per_bucket in sorted(buckets.items()):
            running = 0
            for bound, n in zip((*BUCKETS, float("inf")), per_bucket, strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else repr(bound)
                yield (f"appliance_http_request_duration_seconds_bucket"
                       f"{_labels(method=method, route=route, le=le)} {running}")
            labels = _labels(method=method, route=route)
            yield f"appliance_http_request_duration_seconds_sum{labels} {sums[(method, route)]:.6f}"
            yield f"appliance_http_request_duration_seconds_count{labels} {running}"


def gauge(name: str, help_text: str, values: dict[str, int], label: str) -> Iterable[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for key, value in sorted(values.items()):
        yield f"{name}{_labels(**{label: key})} {value}"


def counter(name: str, help_text: str, value: float) -> Iterable[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} counter"
    yield f"{name} {value}"


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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
