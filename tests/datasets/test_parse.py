"""The streaming readers: good input parses, each kind of bad input names file, line and reason."""

from __future__ import annotations

import io

import pytest

from appliance.datasets.parse import detect_format, read_records
from appliance.errors import InvalidInput, PayloadTooLarge


def parse(data: bytes, fmt: str = "jsonl", limit: int = 1000) -> list[dict]:
    return [r for _, r in read_records(io.BytesIO(data), "in.x", fmt, limit)]  # type: ignore[arg-type]


def test_jsonl_records_and_blank_lines() -> None:
    assert parse(b'{"a": 1}\n\n{"a": "\xc3\xa9"}\n') == [{"a": 1}, {"a": "é"}]


def test_csv_records_with_quoted_newlines() -> None:
    data = b'id,text\n1,"hello, world"\n2,"two\nlines"\n'
    assert parse(data, "csv") == [{"id": "1", "text": "hello, world"},
                                  {"id": "2", "text": "two\nlines"}]


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        (b'{"a": 1}\n{"a": \xff}\n', "jsonl", "in.x:2: invalid UTF-8"),
        (b'{"a": 1}\n{"a": 1\n', "jsonl",
         "in.x line 2: invalid JSON: Expecting ',' delimiter (column 8)"),
        (b'{"a": 1}\n[1, 2]\n', "jsonl", "in.x:2: each line must be a JSON object"),
        (b"", "jsonl", "in.x: the file holds no records"),
        (b"\n\n", "jsonl", "in.x: the file holds no records"),
        (b"a,b\n1,2\n3\n", "csv", "in.x:3: ragged CSV row"),
        (b"a,a\n1,2\n", "csv", "duplicate column names"),
        (b"a,b\n", "csv", "in.x: the file holds no records"),
        (b"a,b\n1,\xfe\n", "csv", "invalid UTF-8"),
    ],
)
def test_bad_input_names_line_and_reason(data: bytes, fmt: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse(data, fmt)
    assert message in str(err.value)


def test_record_over_size_limit_is_refused_without_buffering() -> None:
    big = b'{"a": "' + b"x" * 5000 + b'"}\n'
    with pytest.raises(PayloadTooLarge, match="in.x:2: record is over the size limit of 100"):
        parse(b'{"a": 1}\n' + big, limit=100)
    with pytest.raises(PayloadTooLarge, match="over the size limit"):
        parse(b"a\n" + b"y" * 5000 + b"\n", "csv", limit=100)


@pytest.mark.parametrize(("name", "fmt"), [("x.jsonl", "jsonl"), ("X.NDJSON", "jsonl"),
                                           ("a.csv", "csv")])
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_detect_format_refuses_unknown_suffix() -> None:
    with pytest.raises(InvalidInput, match="--format"):
        detect_format("data.txt")
