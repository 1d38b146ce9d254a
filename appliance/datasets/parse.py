"""Streaming readers for JSON Lines and CSV, with errors that name the file, line and reason.

Both read the input as bytes in bounded chunks, so a file larger than memory works. Every record
is checked against the size limit before it is decoded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Any, Literal

from appliance.errors import InvalidInput, PayloadTooLarge

Format = Literal["jsonl", "csv"]


def detect_format(name: str, explicit: str | None = None) -> Format:
    if explicit:
        if explicit not in ("jsonl", "csv"):
            raise InvalidInput(f"unknown format {explicit!r}: use jsonl or csv")
        return explicit  # type: ignore[return-value]
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    raise InvalidInput(f"{name}: cannot tell the format from the name; pass --format jsonl|csv")


def read_records(
    stream: IO[bytes], name: str, fmt: Format, max_record_bytes: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record); raise InvalidInput naming file and line on bad input."""
    reader = _read_jsonl if fmt == "jsonl" else _read_csv
    count = 0
    for item in reader(stream, name, max_record_bytes):
        count += 1
        yield item
    if count == 0:
        raise InvalidInput(f"{name}: the file holds no records")


def _read_jsonl(
    stream: IO[bytes], name: str, limit: int
) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(_bounded_lines(stream, name, limit), start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{name}:{number}: invalid UTF-8 at byte {exc.start}") from None
        try:
            record = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            # json counts lines within the one line it was given: name the file's line instead.
            raise InvalidInput(f"{name} line {number}: invalid JSON: {exc.msg} "
                               f"(column {exc.pos + 1})") from None
        except ValueError as exc:  # e.g. a number too long to convert
            raise InvalidInput(f"{name} line {number}: invalid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidInput(f"{name}:{number}: each line must be a JSON object")
        yield number, record


def _bounded_lines(stream: IO[bytes], name: str, limit: int) -> Iterator[bytes]:
    """Lines of a byte stream, refusing one longer than ``limit`` without buffering it whole."""
    number = 0
    while True:
        line = stream.readline(limit + 2)
        if not line:
            return
        number += 1
        if len(line.rstrip(b"\r\n")) > limit:
            raise PayloadTooLarge(
                f"{name}:{number}: record is over the size limit of {limit} bytes"
            )
        yield line


def _read_csv(stream: IO[bytes], name: str, limit: int) -> Iterator[tuple[int, dict[str, Any]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    csv.field_size_limit(limit)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            return
        if len(set(header)) != len(header) or any(not h.strip() for h in header):
            raise InvalidInput(f"{name}:1: CSV header has empty or duplicate column names")
        for row in reader:
            number = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise InvalidInput(
                    f"{name}:{number}: ragged CSV row: {len(row)} fields, header has {len(header)}"
                )
            if sum(len(v) for v in row) > limit:
                raise PayloadTooLarge(
                    f"{name}:{number}: record is over the size limit of {limit} bytes"
                )
            yield number, dict(zip(header, row, strict=True))
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{name}:{reader.line_num + 1}: invalid UTF-8 at byte {exc.start}") from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise PayloadTooLarge(
                f"{name}:{reader.line_num}: record is over the size limit of {limit} bytes"
            ) from None
        raise InvalidInput(f"{name}:{reader.line_num}: malformed CSV: {exc}") from None
    finally:
        text.detach()
