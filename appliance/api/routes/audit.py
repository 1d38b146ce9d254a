"""``/v1/audit``: query events, verify the chain, export the log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from appliance.api import auditing
from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import BAD_INPUT, responses
from appliance.api.schemas import AuditPage, Verification

router = APIRouter(prefix="/v1/audit", tags=["audit"],
                   dependencies=[Depends(reject_unknown_query)])

Decision = Literal["allow", "deny"]


@router.get("/events", response_model=AuditPage, responses=responses(BAD_INPUT))
def query_events(
    ctx: ContextDep,
    user: CurrentUser,
    actor: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    decision: Decision | None = None,
    since: Annotated[str | None, Query(description="ISO 8601 time; events at or after it.",
                                       max_length=40)] = None,
    until: Annotated[str | None, Query(description="ISO 8601 time; events before it.",
                                       max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> Any:
    """Query audit events with filters, oldest first, a page at a time."""
    filters = auditing.Filters(actor, action, resource, decision, auditing.iso_time(since, "since"),
                               auditing.iso_time(until, "until"))
    events = auditing.query(ctx, user, filters, limit=limit, offset=offset)
    return {"events": events, "limit": limit, "offset": offset,
            "next_offset": offset + len(events) if len(events) == limit else None}


@router.get("/verify", response_model=Verification, responses=responses())
def verify_log(ctx: ContextDep, user: CurrentUser) -> Any:
    """Verify the hash chain and every signed checkpoint (ok=false names the first bad event)."""
    return auditing.verify(ctx, user)


EXPORT_CONTENT = {"application/x-ndjson": {"schema": {"type": "string"}},
                  "text/csv": {"schema": {"type": "string"}}}


@router.get("/export", response_class=StreamingResponse, responses={
    **responses(), 200: {"description": "The whole log.", "content": EXPORT_CONTENT}})
def export_log(
    ctx: ContextDep, user: CurrentUser, format: Literal["jsonl", "csv"] = "jsonl"
) -> StreamingResponse:
    """Export the whole log as JSON Lines or CSV (a download)."""
    chunks = auditing.export(ctx, user, format)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="audit-log.{format}"'})
