"""Reading the audit log: filter events, and export them for auditors as JSON Lines or CSV.

Reads take no lock: a line counts only once its newline is on disk, and writers append whole
lines, so a reader never sees half an event (a torn tail is skipped, and reported by verify).
Every returned :class:`AuditEvent` has had its own hash checked; the chain and the signatures are
:func:`appliance.audit.verify.verify_log`'s job.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from appliance.audit.canonical import canonical_json, parse_strict
from appliance.audit.event import EVENT_FIELDS, AuditEvent, format_time
from appliance.audit.files import list_segments
from appliance.errors import ApplianceError, IntegrityError, InvalidInput

#: Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iter_events(audit_dir: Path) -> Iterator[AuditEvent]:
    """Every complete event, oldest first."""
    for _, path in list_segments(Path(audit_dir)):
        for lineno, line in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
            yield _event(path, lineno, line)


def query_events(
    audit_dir: Path,
    *,
    actor: str | None = None,
    action: str | None = None,
    resource: str | None = None,
    decision: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events matching every given filter, oldest first; ``since <= time < until``.

    ``since``/``until`` are datetimes or ISO 8601 strings (a time without a zone is UTC);
    ``offset`` skips that many matches and ``limit`` (None: no limit) caps the result.
    """
    if (limit is not None and limit < 0) or offset < 0:
        raise InvalidInput("limit and offset must not be negative")
    wanted = {k: v for k, v in (("actor", actor), ("action", action), ("resource", resource),
                                 ("decision", decision)) if v is not None}
    low = _time_bound("since", since)
    high = _time_bound("until", until)
    found: list[AuditEvent] = []
    skipped = 0
    if limit == 0:
        return found
    unfiltered = not wanted and low is None and high is None
    for _, path in list_segments(Path(audit_dir)):
        lines = path.read_bytes().split(b"\n")[:-1]
        if unfiltered and skipped + len(lines) <= offset:  # a page further on: just count
            skipped += len(lines)
            continue
        for lineno, line in enumerate(lines, start=1):
            if unfiltered and skipped < offset:
                skipped += 1
                continue
            data = _parse(path, lineno, line)
            if any(data.get(k) != v for k, v in wanted.items()):
                continue
            stamp = data.get("time")
            if not isinstance(stamp, str):
                raise IntegrityError(f"{path.name}:{lineno}: event has no time")
            if (low is not None and stamp < low) or (high is not None and stamp >= high):
                continue
            if skipped < offset:
                skipped += 1
                continue
            found.append(_event(path, lineno, line, data))
            if limit is not None and len(found) >= limit:
                return found
    return found


def export_jsonl(events: Iterable[AuditEvent], out: IO[str]) -> int:
    """Write events exactly as the log stores them (hashes re-checkable); returns the count."""
    count = 0
    for event in events:
        out.write(event.to_line().decode("utf-8") + "\n")
        count += 1
    return count


def export_csv(events: Iterable[AuditEvent], out: IO[str]) -> int:
    """Write one CSV row per event; ``reasons`` and ``details`` are JSON in their cells.

    Cells a spreadsheet would run as a formula get a leading ``'`` (OWASP's advice on CSV
    injection): reasons and resources are written by the policy and by callers, not by us.
    """
    writer = csv.writer(out)
    writer.writerow(EVENT_FIELDS)
    count = 0
    for event in events:
        row = event.as_dict()
        row["reasons"] = json.dumps(row["reasons"], ensure_ascii=False)
        row["details"] = canonical_json(row["details"]).decode("utf-8")
        writer.writerow([_cell(row[name]) for name in EVENT_FIELDS])
        count += 1
    return count


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _time_bound(name: str, value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{name} {value!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_time(value)


def _parse(path: Path, lineno: int, line: bytes) -> dict[str, Any]:
    try:
        data = parse_strict(line.decode("utf-8"))
    except ValueError as exc:
        raise IntegrityError(f"{path.name}:{lineno}: not a JSON event ({exc})") from None
    if not isinstance(data, dict):
        raise IntegrityError(f"{path.name}:{lineno}: not a JSON object")
    return data


def _event(path: Path, lineno: int, line: bytes, data: dict[str, Any] | None = None) -> AuditEvent:
    try:
        return AuditEvent.from_dict(data if data is not None else _parse(path, lineno, line))
    except ApplianceError as exc:
        raise IntegrityError(f"{path.name}:{lineno}: {exc.message}") from None
