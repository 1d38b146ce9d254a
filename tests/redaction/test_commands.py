"""The functions behind ``appliance pii analyze/redact/evaluate``."""

from __future__ import annotations

import json

import pytest

from appliance.errors import InvalidInput
from appliance.redaction import analyze_lines, redact_lines


def test_analyze_jsonl_offsets_index_the_given_text(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    text = "mail ｊ@ｅｘａｍｐｌｅ．ｃｏｍ"
    lines = [json.dumps({"text": text}), "", json.dumps({"text": "none"})]
    out = list(analyze_lines(lines, plain=False, analyzer=pattern_analyzer))
    assert len(out) == 2
    span = out[0]["spans"][0]
    assert set(span) == {"start", "end", "entity_type", "score"}
    assert text[span["start"] : span["end"]] == "ｊ@ｅｘａｍｐｌｅ．ｃｏｍ"
    assert out[1] == {"spans": []}


def test_plain_mode_keeps_one_output_per_line(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    out = list(analyze_lines(["ip 10.0.0.1\n", "\n", "x"], plain=True, analyzer=pattern_analyzer))
    assert [len(o["spans"]) for o in out] == [1, 0, 0]


@pytest.mark.parametrize("line", ["not json", json.dumps({"body": "x"}), json.dumps([1])])
def test_bad_lines_are_invalid_input(pattern_analyzer, line: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="line 1"):
        list(analyze_lines([line], analyzer=pattern_analyzer))


def test_redact_lines(pattern_analyzer) -> None:  # type: ignore[no-untyped-def]
    from appliance.redaction import Redactor

    out = list(redact_lines([json.dumps({"text": "ip 10.0.0.1"})],
                            redactor=Redactor(pattern_analyzer)))
    assert out[0]["text"] == "ip <IP_ADDRESS>"
