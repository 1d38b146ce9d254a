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
Text = Annotated[str | None, Query(max_length=256)]
Prefix = Annotated[str | None, Query(max_length=256, description="Matches the start.")]
Contains = Annotated[str | None, Query(max_length=256, description="Matches any part.")]


def audit_filters(
    actor: Text = None,
    actor_prefix: Prefix = None,
    actor_contains: Contains = None,
    action: Text = None,
    action_prefix: Prefix = None,
    action_contains: Contains = None,
    resource: Text = None,
    resource_prefix: Prefix = None,
    resource_contains: Contains = None,
    decision: Decision | None = None,
    since: Annotated[str | None, Query(description="ISO 8601 time; events at or after it.",
                                       max_length=40)] = None,
    until: Annotated[str | None, Query(description="ISO 8601 time; events before it.",
                                       max_length=40)] = None,
    up_to_seq: Annotated[int | None, Query(ge=0, le=2**53, description=(
        "Leave out events after this seq: newest first, pass the first page's up_to_seq with "
        "next_offset so events written meanwhile do not shift the pages."))] = None,
    order: Annotated[Literal["oldest", "newest"], Query(description=(
        "oldest first (the default here: offsets stay put as the log grows) or newest first "
        "(what the CLI and console show)"))] = "oldest",
) -> auditing.Filters:
    """The filters shared by the query and the export (one of each field's three spellings)."""
    return auditing.Filters(
        auditing.text_filter("actor", actor, actor_prefix, actor_contains),
        auditing.text_filter("action", action, action_prefix, action_contains),
        auditing.text_filter("resource", resource, resource_prefix, resource_contains),
        decision, auditing.iso_time(since, "since"), auditing.iso_time(until, "until"),
        newest_first=order == "newest", up_to_seq=up_to_seq)


FiltersDep = Annotated[auditing.Filters, Depends(audit_filters)]


@router.get("/events", response_model=AuditPage, responses=responses(BAD_INPUT))
def query_events(
    ctx: ContextDep,
    user: CurrentUser,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**53)] = 0,
) -> Any:
    """Query audit events with filters, oldest or newest first, a page at a time."""
    events = auditing.query(ctx, user, filters, limit=limit, offset=offset)
    return {"events": events, "limit": limit, "offset": offset,
            "next_offset": offset + len(events) if len(events) == limit else None,
            "up_to_seq": filters.anchored(events).up_to_seq}


@router.get("/verify", response_model=Verification, responses=responses())
def verify_log(ctx: ContextDep, user: CurrentUser) -> Any:
    """Verify the hash chain and every signed checkpoint (ok=false names the first bad event)."""
    return auditing.verify(ctx, user)


EXPORT_CONTENT = {"application/x-ndjson": {"schema": {"type": "string"}},
                  "text/csv": {"schema": {"type": "string"}}}


@router.get("/export", response_class=StreamingResponse, responses={
    **responses(BAD_INPUT), 200: {"description": "The matching events.",
                                  "content": EXPORT_CONTENT}})
def export_log(
    ctx: ContextDep, user: CurrentUser, filters: FiltersDep,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """Export the events matching the filters, in their order, as JSON Lines or CSV."""
    chunks = auditing.export(ctx, user, format, filters)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="audit-log.{format}"'})
