"""Console pages for auditors: the log with filters and paging, verification, downloads."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from appliance.api import auditing
from appliance.api.deps import ContextDep
from appliance.api.web.console import ConsoleDep, FormDep, can, redirect, render
from appliance.errors import InvalidInput

router = APIRouter(include_in_schema=False)
PAGE = 50
FILTERS = ("actor", "action", "resource", "decision", "since", "until")


class VerificationCache:
    """The latest verification result, so the log page need not re-verify on every view."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.result: dict[str, Any] | None = None
        self.at: float = 0.0

    def store(self, result: dict[str, Any]) -> None:
        with self._lock:
            self.result, self.at = result, time.time()


def _filters(request: Request) -> tuple[dict[str, str], auditing.Filters]:
    raw = {k: request.query_params.get(k, "").strip()[:200] for k in FILTERS}
    decision = raw["decision"] if raw["decision"] in ("allow", "deny") else ""
    raw["decision"] = decision
    return raw, auditing.Filters(
        raw["actor"] or None, raw["action"] or None, raw["resource"] or None, decision or None,
        auditing.iso_time(raw["since"], "since"), auditing.iso_time(raw["until"], "until"))


@router.get("/audit")
def show_audit_log(request: Request, ctx: ContextDep, console: ConsoleDep,
                   page: int = 1) -> Response:
    """The audit log: filters, a page of events, the chain's verification status."""
    raw, filters = _filters(request)
    page = max(1, min(page, 10**6))
    events = auditing.query(ctx, console.principal, filters, limit=PAGE + 1,
                            offset=(page - 1) * PAGE)
    has_next = len(events) > PAGE
    cache: VerificationCache = request.app.state.verification
    may_verify = can(ctx, console.principal, "audit.verify", {"type": "audit", "id": "log"},
                     "audit")
    if cache.result is None and may_verify:
        cache.store(auditing.verify(ctx, console.principal))
    query = {k: v for k, v in raw.items() if v}
    return render(
        request, "audit.html", console, events=events[:PAGE], filters=raw, page=page,
        has_next=has_next, verification=cache.result, verified_at=cache.at,
        may_verify=may_verify, query=urlencode(query), title="Audit log",
        prev_url=f"/audit?{urlencode({**query, 'page': page - 1})}",
        next_url=f"/audit?{urlencode({**query, 'page': page + 1})}")


@router.post("/audit/verify")
def verify_audit_log(request: Request, ctx: ContextDep, console: ConsoleDep,
                     form: FormDep) -> Response:
    """Re-verify the hash chain and signed checkpoints now."""
    result = auditing.verify(ctx, console.principal)
    request.app.state.verification.store(result)
    return redirect("/audit", console, ("Verified: " if result["ok"] else "FAILED: ")
                    + str(result["detail"]))


@router.get("/audit/export.{fmt}")
def export_audit_log(ctx: ContextDep, console: ConsoleDep, fmt: str) -> Response:
    """Download the whole log as CSV or JSON Lines."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput("export as csv or jsonl")
    chunks = auditing.export(ctx, console.principal, fmt)
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="audit-log.{fmt}"'})
