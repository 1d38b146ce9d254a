"""Reads of the audit log for the API and the console: authorized and audited like every read.

The same steps as ``appliance audit log|verify|export`` (appliance/cli/audit.py): ask the gate
(which audits the request itself, filters included), then read.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from appliance import audit as audit_log
from appliance.context import AUDIT_DIR, KEYS_DIR, SIGNING_KEY, Context
from appliance.errors import IntegrityError, InvalidInput
from appliance.gate import Principal, authorize

EXPORT_PAGE = 2000
_CODE = re.compile(r"[A-Za-z0-9._:/@+=*#-]{1,128}")
PUBLIC_KEY = SIGNING_KEY.removesuffix(".key") + ".pub"


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    action: str | None = None
    resource: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


def iso_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time (a time without a zone is UTC); InvalidInput names the parameter."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} {value[:40]!r} is not an ISO 8601 time, e.g. "
                           "2025-01-31T09:00:00+00:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def query(
    ctx: Context, principal: Principal, filters: Filters, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """One page of events matching the filters, oldest first."""
    given = filters.given()
    authorize(ctx, principal, "audit.read", {"type": "audit", "id": "log"}, "audit",
              {k: _detail(v) for k, v in given.items()})
    return [_as_dict(e) for e in ctx.audit.query(**given, limit=limit, offset=offset)]


def verify(ctx: Context, principal: Principal) -> dict[str, Any]:
    """Verify the chain and checkpoints; a failed verification is a result, not an error."""
    authorize(ctx, principal, "audit.verify", {"type": "audit", "id": "log"}, "audit")
    public_key = audit_log.load_public_key_file(ctx.settings.path(KEYS_DIR, PUBLIC_KEY))
    try:
        report = audit_log.verify_log(ctx.settings.path(AUDIT_DIR), public_key)
    except IntegrityError as exc:
        return {"ok": False, "detail": str(exc)}
    data = report.as_dict()
    return {**data, "ok": True, "detail": f"{data.get('events')} events and "
            f"{data.get('checkpoints')} signed checkpoints verified"}


def export(ctx: Context, principal: Principal, fmt: str) -> Iterator[bytes]:
    """Authorize now (before any response header is sent); stream the log a page at a time."""
    authorize(ctx, principal, "audit.export", {"type": "audit", "id": "log"}, "audit",
              {"format": fmt})
    return _export(ctx, fmt)


def _export(ctx: Context, fmt: str) -> Iterator[bytes]:
    writer = audit_log.export_jsonl if fmt == "jsonl" else audit_log.export_csv
    pages = _pages(ctx)
    first = True
    for events in pages:
        out = io.StringIO()
        writer(events, out)
        text = out.getvalue()
        if fmt == "csv" and not first:
            text = text.split("\n", 1)[1] if "\n" in text else ""  # one header row only
        first = False
        yield text.encode("utf-8")
    if first:  # an empty log still gets its CSV header
        out = io.StringIO()
        writer([], out)
        yield out.getvalue().encode("utf-8")


def _pages(ctx: Context) -> Iterator[list[Any]]:
    offset = 0
    while True:
        events = ctx.audit.query(limit=EXPORT_PAGE, offset=offset)
        if not events:
            return
        yield list(events)
        offset += len(events)
        if len(events) < EXPORT_PAGE:
            return


def _detail(value: Any) -> str:
    """A filter as an audit detail: audit details hold short codes only, never free text, so a
    value that is not one is recorded by its hash."""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if _CODE.fullmatch(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _as_dict(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = event.as_dict() if hasattr(event, "as_dict") else dict(event)
    return data
