"""Console pages for auditors: the log with filters and paging, verification, downloads."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from appliance import audit as audit_log
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
    """The form's values (to re-fill it and build links) and the filters they mean.

    Each text field has a match select (``action_match``: exact, prefix or contains) beside it;
    the API's spellings (``action_prefix=...``) are accepted too, so its links work here.
    """
    raw = {k: request.query_params.get(k, "").strip()[:200] for k in FILTERS}
    for name in auditing.TEXT_FIELDS:
        how = request.query_params.get(f"{name}_match", "exact")
        how = how if how in ("exact", "prefix", "contains") else "exact"
        for spelled in ("prefix", "contains"):
            given = request.query_params.get(f"{name}_{spelled}", "").strip()[:200]
            if given and not raw[name]:
                raw[name], how = given, spelled
        raw[f"{name}_match"] = how
    decision = raw["decision"] if raw["decision"] in ("allow", "deny") else ""
    raw["decision"] = decision
    raw["order"] = "oldest" if request.query_params.get("order") == "oldest" else "newest"
    anchor = request.query_params.get("up_to_seq", "")
    raw["up_to_seq"] = anchor if anchor.isdigit() and len(anchor) <= 16 else ""

    def text(name: str) -> audit_log.TextMatch | None:
        value = raw[name]
        return audit_log.TextMatch(value, raw[f"{name}_match"]) if value else None  # type: ignore[arg-type]

    return raw, auditing.Filters(
        text("actor"), text("action"), text("resource"), decision or None,
        auditing.iso_time(raw["since"], "since"), auditing.iso_time(raw["until"], "until"),
        newest_first=raw["order"] == "newest",
        up_to_seq=int(raw["up_to_seq"]) if raw["up_to_seq"] else None)


def _query(raw: dict[str, str], **changes: str) -> dict[str, str]:
    """The form's values as a link's query: only what is set, and no default match or order."""
    query = {**raw, **changes}
    return {k: v for k, v in query.items()
            if v and not (k.endswith("_match") and (v == "exact" or not query[k[:-6]]))
            and not (k == "order" and v == "newest")}


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
    # Newest first, the pages after this one stay anchored at its top event (the log grows
    # at the front, this very view's audit event included); downloads and the order toggle
    # take the filters as typed.
    anchor = filters.anchored(events).up_to_seq
    query = _query(raw, up_to_seq="")
    paging = _query(raw, up_to_seq=str(anchor) if anchor is not None else "")
    flipped = "oldest" if raw["order"] == "newest" else "newest"
    return render(
        request, "audit.html", console, events=events[:PAGE], filters=raw, page=page,
        has_next=has_next, verification=cache.result, verified_at=cache.at,
        may_verify=may_verify, query=urlencode(query), title="Audit log",
        reverse_url=f"/audit?{urlencode(_query(raw, order=flipped, up_to_seq=''))}",
        prev_url=f"/audit?{urlencode({**paging, 'page': page - 1})}",
        next_url=f"/audit?{urlencode({**paging, 'page': page + 1})}")


@router.post("/audit/verify")
def verify_audit_log(request: Request, ctx: ContextDep, console: ConsoleDep,
                     form: FormDep) -> Response:
    """Re-verify the hash chain and signed checkpoints now."""
    result = auditing.verify(ctx, console.principal)
    request.app.state.verification.store(result)
    return redirect("/audit", console, ("Verified: " if result["ok"] else "FAILED: ")
                    + str(result["detail"]))


@router.get("/audit/export.{fmt}")
def export_audit_log(request: Request, ctx: ContextDep, console: ConsoleDep,
                     fmt: str) -> Response:
    """Download the events the page's filters select, in its order, as CSV or JSON Lines."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput("export as csv or jsonl")
    _, filters = _filters(request)
    chunks = auditing.export(ctx, console.principal, fmt, filters)
    media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="audit-log.{fmt}"'})
