"""What the ``appliance pii`` commands do, as functions (the CLI only parses flags and prints).

``analyze_lines`` and ``redact_lines`` read JSONL with a ``text`` field (or plain lines) and
yield one dict per input line, batched internally so the NER model runs once per batch; offsets
index each line's text exactly as given. ``evaluate`` is re-exported from ``evaluation``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from appliance.errors import InvalidInput
from appliance.redaction.analyzer import PiiAnalyzer, build_analyzer
from appliance.redaction.evaluation import EvalTable, evaluate

BATCH = 64


def _texts(lines: Iterable[str], plain: bool) -> Iterator[str]:
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n") if plain else line.strip()
        if plain:
            yield line
            continue
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"line {number}: not JSON ({exc.msg}); use --plain for text") from exc
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise InvalidInput(f"line {number}: expected an object with a string 'text' field")
        yield record["text"]


def _batches(texts: Iterator[str]) -> Iterator[list[str]]:
    while batch := list(islice(texts, BATCH)):
        yield batch


def analyze_lines(lines: Iterable[str], plain: bool = False,
                  analyzer: PiiAnalyzer | None = None) -> Iterator[dict[str, Any]]:
    """``{"spans": [{"start", "end", "entity_type", "score"}]}`` per input line."""
    analyzer = analyzer or build_analyzer(None)
    for batch in _batches(_texts(lines, plain)):
        for spans in analyzer.analyze_batch(batch):
            yield {"spans": [s.to_dict() for s in spans]}


def redact_lines(lines: Iterable[str], plain: bool = False, redactor: Any = None
                 ) -> Iterator[dict[str, Any]]:
    """``{"text": <redacted>, "spans": [...]}`` per input line (placeholders by default)."""
    from appliance.redaction.anonymizer import Redactor

    redactor = redactor or Redactor(build_analyzer(None))
    for batch in _batches(_texts(lines, plain)):
        for result in redactor.redact_batch(batch, field="text"):
            yield {"text": result.text, "spans": [s.to_dict() for s in result.spans],
                   "dropped": result.dropped}


__all__ = ["EvalTable", "analyze_lines", "evaluate", "redact_lines"]
