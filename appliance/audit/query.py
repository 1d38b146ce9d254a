"""Reading the audit log: filter events (exact, prefix or substring matches on actor, action and
resource; decision; a time range), oldest or newest first, and export them for auditors as JSON
Lines or CSV.

Reads take no lock: a line counts only once its newline is on disk, and writers append whole
lines, so a reader never sees half an event (a torn tail is skipped, and reported by verify).
Every returned :class:`AuditEvent` has had its own hash checked; the chain and the signatures are
:func:`appliance.audit.verify.verify_log`'s job.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any, Literal

from appliance.audit.canonical import canonical_json, parse_strict
from appliance.audit.event import EVENT_FIELDS, AuditEvent, format_time
from appliance.audit.files import list_segments
from appliance.errors import ApplianceError, IntegrityError, InvalidInput

#: Spreadsheet programs run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

MatchKind = Literal["exact", "prefix", "contains"]
MATCH_KINDS: tuple[MatchKind, ...] = ("exact", "prefix", "contains")


def iter_events(audit_dir: Path) -> Iterator[AuditEvent]:
    """Every complete event, oldest first."""
    for _, path in list_segments(Path(audit_dir)):
        for lineno, line in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
            yield _event(path, lineno, line)


@dataclass(frozen=True)
class TextMatch:
    """A filter on one text field (actor, action, resource): the whole value, its start, or any
    part of it. A plain string given as a filter means ``TextMatch(text)``, an exact match."""

    text: str
    how: MatchKind = "exact"

    def __post_init__(self) -> None:
        if self.how not in MATCH_KINDS:
            raise InvalidInput(f"match {self.how!r} is not one of {', '.join(MATCH_KINDS)}")
        if not isinstance(self.text, str):
            raise InvalidInput("a text filter must be a string")

    def matches(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        if self.how == "prefix":
            return value.startswith(self.text)
        if self.how == "contains":
            return self.text in value
        return value == self.text


TextFilter = str | TextMatch


def query_events(
    audit_dir: Path,
    *,
    actor: TextFilter | None = None,
    action: TextFilter | None = None,
    resource: TextFilter | None = None,
    decision: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    up_to_seq: int | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[AuditEvent]:
    """Events matching every given filter, oldest first (``newest_first``: newest first);
    ``since <= time < until``.

    ``actor``/``action``/``resource`` are exact strings or :class:`TextMatch` (prefix,
    substring); ``since``/``until`` are datetimes or ISO 8601 strings (a time without a zone is
    UTC); ``up_to_seq`` leaves out events after that one; ``offset`` skips that many matches
    in the chosen order and ``limit`` (None: no limit) caps the result.

    Newest first, the log grows at the front: the next page of a listing must pass the first
    page's top ``seq`` as ``up_to_seq``, or every event written meanwhile (the listing's own
    ``audit.read`` events among them) shifts its offsets and repeats events at page borders.
    """
    if (limit is not None and limit < 0) or offset < 0:
        raise InvalidInput("limit and offset must not be negative")
    if limit == 0:
        return []
    matching = iter_matching(audit_dir, actor=actor, action=action, resource=resource,
                             decision=decision, since=since, until=until, up_to_seq=up_to_seq,
                             newest_first=newest_first, offset=offset)
    return list(islice(matching, limit))


def iter_matching(
    audit_dir: Path,
    *,
    actor: TextFilter | None = None,
    action: TextFilter | None = None,
    resource: TextFilter | None = None,
    decision: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    up_to_seq: int | None = None,
    newest_first: bool = False,
    offset: int = 0,
) -> Iterator[AuditEvent]:
    """The events :func:`query_events` returns, lazily, for streaming downloads.

    One segment (at most ``segment_max_bytes``, 16 MiB by default) is in memory at a time.
    Newest first reads the segments last to first and each one's lines backwards; the segment
    list is taken once, at the start, so a download is a consistent snapshot: events appended
    while it streams (its own audit event among them) are not in it when newest first, and
    offsets never shift under a reader as they would with page-by-page re-queries.
    """
    if offset < 0 or (up_to_seq is not None and up_to_seq < 0):
        raise InvalidInput("offset and up_to_seq must not be negative")
    tests = [(k, v if isinstance(v, TextMatch) else TextMatch(v))
             for k, v in (("actor", actor), ("action", action), ("resource", resource),
                          ("decision", decision)) if v is not None]
    low = _time_bound("since", since)
    high = _time_bound("until", until)
    return _matching(Path(audit_dir), tests, low, high, up_to_seq, newest_first, offset)


def _matching(
    audit_dir: Path, tests: list[tuple[str, TextMatch]], low: str | None, high: str | None,
    bound: int | None, newest_first: bool, offset: int,
) -> Iterator[AuditEvent]:
    unfiltered = not tests and low is None and high is None
    # Newest first, the events after ``bound`` are the last lines of the log: look at their seq
    # until the first one at or below it; every line before that one is below it too.
    above = bound is not None and newest_first
    # A cheap test before parsing: RFC 8785 writes a string's characters as they are, except
    # '"', '\\' and control characters, so a value without those that matches any way at all
    # has its UTF-8 bytes in the line. Most lines of a filtered read are then never parsed (a
    # line re-encoded with escapes is not canonical: verify reports it).
    needles = [test.text.encode("utf-8") for _, test in tests if _verbatim(test.text)]
    segments = list_segments(audit_dir)
    skipped = 0
    for _, path in reversed(segments) if newest_first else segments:
        lines = path.read_bytes().split(b"\n")[:-1]
        if unfiltered and not above and skipped + len(lines) <= offset:  # further on: count
            skipped += len(lines)
            continue
        order = range(len(lines) - 1, -1, -1) if newest_first else range(len(lines))
        for index in order:
            line, lineno = lines[index], index + 1
            data: dict[str, Any] | None = None
            if above:
                data = _parse(path, lineno, line)
                if bound is not None and _seq(path, lineno, data) > bound:
                    continue
                above = False
            if unfiltered and skipped < offset:
                skipped += 1
                continue
            if data is None:
                if needles and not all(needle in line for needle in needles):
                    continue
                data = _parse(path, lineno, line)
            if bound is not None and not newest_first and _seq(path, lineno, data) > bound:
                return  # oldest first: everything from here on is after the bound
            if not all(test.matches(data.get(k)) for k, test in tests):
                continue
            stamp = data.get("time")
            if not isinstance(stamp, str):
                raise IntegrityError(f"{path.name}:{lineno}: event has no time")
            if (low is not None and stamp < low) or (high is not None and stamp >= high):
                continue
            if skipped < offset:
                skipped += 1
                continue
            yield _event(path, lineno, line, data)


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


def _verbatim(text: str) -> bool:
    """True if canonical JSON writes ``text`` as its own UTF-8 bytes (no escapes)."""
    return bool(text) and not any(c in '"\\' or ord(c) < 0x20 for c in text)


def _seq(path: Path, lineno: int, data: dict[str, Any]) -> int:
    seq = data.get("seq")
    if type(seq) is not int:
        raise IntegrityError(f"{path.name}:{lineno}: event has no seq")
    return seq


def _event(path: Path, lineno: int, line: bytes, data: dict[str, Any] | None = None) -> AuditEvent:
    try:
        return AuditEvent.from_dict(data if data is not None else _parse(path, lineno, line))
    except ApplianceError as exc:
        raise IntegrityError(f"{path.name}:{lineno}: {exc.message}") from None
