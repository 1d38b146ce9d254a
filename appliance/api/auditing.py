"""Reads of the audit log for the API and the console: authorized and audited like every read.

The same steps as ``appliance audit log|verify|export`` (appliance/cli/audit.py, which calls
these through its backend): ask the gate (which audits the request itself, filters and order
included), then read. One filter syntax everywhere: ``actor``/``action``/``resource`` match
exactly, ``<field>_prefix`` matches the start and ``<field>_contains`` any part; ``order`` is
``newest`` (the default) or ``oldest``.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from appliance import audit as audit_log
from appliance.context import AUDIT_DIR, KEYS_DIR, SIGNING_KEY, Context
from appliance.errors import IntegrityError, InvalidInput
from appliance.gate import Principal, authorize

EXPORT_PAGE = 2000
_CODE = re.compile(r"[A-Za-z0-9._:/@+=*#-]{1,128}")
PUBLIC_KEY = SIGNING_KEY.removesuffix(".key") + ".pub"


TEXT_FIELDS = ("actor", "action", "resource")


@dataclass(frozen=True)
class Filters:
    """What to select: exact or :class:`TextMatch` filters on actor, action and resource; the
    decision; a time range. ``newest_first`` orders the result (the default everywhere)."""

    actor: audit_log.TextFilter | None = None
    action: audit_log.TextFilter | None = None
    resource: audit_log.TextFilter | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = True
    up_to_seq: int | None = None

    def given(self) -> dict[str, Any]:
        """The filters set, as :meth:`AuditLog.query` keyword arguments (order included)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # not asdict: it would
        return {k: v for k, v in values.items() if v not in (None, "")}  # unpack TextMatch

    def params(self) -> dict[str, str]:
        """The same filters as HTTP query parameters (``action_prefix=dataset.``, ...)."""
        out: dict[str, str] = {}
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, audit_log.TextMatch):
                out[name if value.how == "exact" else f"{name}_{value.how}"] = value.text
            elif value:
                out[name] = value
        if self.decision:
            out["decision"] = self.decision
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                out[name] = moment.isoformat()
        if self.up_to_seq is not None:
            out["up_to_seq"] = str(self.up_to_seq)
        out["order"] = "newest" if self.newest_first else "oldest"
        return out

    def anchored(self, events: list[dict[str, Any]]) -> Filters:
        """These filters with ``up_to_seq`` fixed at the top of a newest-first first page, for
        the pages after it (see :func:`appliance.audit.query.query_events`)."""
        if not self.newest_first or self.up_to_seq is not None or not events:
            return self
        return replace(self, up_to_seq=int(events[0]["seq"]))


def text_filter(name: str, exact: str | None = None, prefix: str | None = None,
                contains: str | None = None) -> audit_log.TextMatch | None:
    """One field's filter from its three spellings (``action``, ``action_prefix``,
    ``action_contains``); giving two of them is an error, not a silent choice."""
    given = [(how, text) for how, text in (("exact", exact), ("prefix", prefix),
                                           ("contains", contains)) if text]
    if len(given) > 1:
        raise InvalidInput(f"give at most one of {name}, {name}_prefix and {name}_contains")
    if not given:
        return None
    how, text = given[0]
    return audit_log.TextMatch(text, how)  # type: ignore[arg-type]


def order_newest(order: str | None) -> bool:
    """``order=newest`` (the default) or ``order=oldest``."""
    if order in (None, "", "newest"):
        return True
    if order == "oldest":
        return False
    raise InvalidInput(f"order {str(order)[:20]!r} is not newest or oldest")


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
    """One page of events matching the filters, newest first unless the filters say oldest."""
    authorize(ctx, principal, "audit.read", {"type": "audit", "id": "log"}, "audit",
              _details(filters))
    return [_as_dict(e) for e in ctx.audit.query(**filters.given(), limit=limit, offset=offset)]


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


def export(ctx: Context, principal: Principal, fmt: str,
           filters: Filters | None = None) -> Iterator[bytes]:
    """Authorize now (before any response header is sent); stream the matching events, in the
    filters' order, from one snapshot of the segment list (see :func:`iter_matching`)."""
    filters = filters or Filters()
    authorize(ctx, principal, "audit.export", {"type": "audit", "id": "log"}, "audit",
              {"format": fmt, **_details(filters)})
    events = audit_log.iter_matching(ctx.audit.audit_dir, **filters.given())
    return _export(events, fmt)


def _export(events: Iterator[Any], fmt: str) -> Iterator[bytes]:
    writer = audit_log.export_jsonl if fmt == "jsonl" else audit_log.export_csv
    first = True
    while page := list(islice(events, EXPORT_PAGE)):
        out = io.StringIO()
        writer(page, out)
        text = out.getvalue()
        if fmt == "csv" and not first:
            text = text.split("\n", 1)[1] if "\n" in text else ""  # one header row only
        first = False
        yield text.encode("utf-8")
    if first:  # an empty result still gets its CSV header
        out = io.StringIO()
        writer([], out)
        yield out.getvalue().encode("utf-8")


def _details(filters: Filters) -> dict[str, Any]:
    """The filters as audit details: what was asked for, in the parameters' names."""
    return {k: _detail(v) for k, v in filters.params().items()}


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
