"""The hand-written PII evaluation sets (tools/data/pii_eval): current, well-formed, disjoint."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pii_eval_tool", ROOT / "tools" / "pii_eval.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
SETS = {name: tool.read_set(name) for name in tool.SETS}
# Shorter pieces ("Thanks,", "Best regards,") are formulas any text shares.
_MIN_SENTENCE = 25


def _sentences(text: str) -> set[str]:
    pieces = re.split(r"(?<=[.!?])\s+|\n+", text)
    return {p.strip() for p in pieces if len(p.strip()) >= _MIN_SENTENCE}


def test_jsonl_is_current_with_the_sources() -> None:
    assert tool.stale_sets() == []


@pytest.mark.parametrize("name", tool.SETS)
def test_spans_match_the_marked_text_and_do_not_cross(name: str) -> None:
    marked = (tool.DATA / f"{name}.txt").read_text("utf-8")
    bodies = [m.group(2) for m in tool._SPAN.finditer(marked)]
    spans = [(r["text"], s) for r in SETS[name] for s in r["spans"]]
    assert [text[s["start"] : s["end"]] for text, s in spans] == bodies
    for record in SETS[name]:
        ordered = sorted((s["start"], s["end"]) for s in record["spans"])
        assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:], strict=False)), record["doc"]
        assert record["source"] == name


@pytest.mark.parametrize("name", tool.SETS)
def test_each_set_is_large_enough_and_has_every_label(name: str) -> None:
    records = SETS[name]
    assert len(records) >= 100
    assert {s["label"] for r in records for s in r["spans"]} == tool.LABELS
    assert sum(not r["spans"] for r in records) >= 10  # hard negatives: documents with no PII


def test_sets_share_no_sentence_with_heldout_or_generator() -> None:
    from appliance.redaction.synthetic import generate

    heldout = [json.loads(x)["text"] for x in tool.HELDOUT.read_text("utf-8").splitlines() if x]
    generated = [r["text"] for r in generate(2000, 0, "train")]
    seen = set().union(*(_sentences(t) for t in heldout + generated))
    for name, records in SETS.items():
        for record in records:
            assert record["text"] not in heldout
            shared = _sentences(record["text"]) & seen
            assert not shared, (name, record["doc"], shared)


@pytest.mark.parametrize(("source", "message"), [
    ("ok [[PERSON|Ann]] and [[PERSN|Bob]]", "unknown label 'PERSN'"),
    ("line one\nsee [[PERSON|Ann] here", "unbalanced"),
    ("stray ]] here", "unbalanced"),
    ("[[PERSON| Ann]]", "outer whitespace"),
    ("[[PERSON|]]", "empty span"),
    ("a\n---\n---\nb", "empty document"),
])
def test_malformed_markup_is_an_error_with_file_and_line(tmp_path: Path, source: str,
                                                         message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(source, "utf-8")
    with pytest.raises(tool.MarkupError, match=re.escape(message)) as err:
        tool.parse_source(path)
    assert str(err.value).startswith(f"{path}:")


def test_line_numbers_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "two.txt"
    path.write_text("Hi [[PERSON|Ann]].\n---\nfirst\n[[LOCATION|1 Elm St\nLeeds]] [[BOGUS|x]]",
                    "utf-8")
    with pytest.raises(tool.MarkupError, match=r"two\.txt:5: unknown label"):
        tool.parse_source(path)
    path.write_text("\nHi [[PERSON|Ann]].\n---\n[[LOCATION|1 Elm St\nLeeds]]\n", "utf-8")
    first, second = tool.parse_source(path)
    assert first["text"] == "Hi Ann." and first["spans"] == [
        {"start": 3, "end": 6, "label": "PERSON"}]
    assert second["spans"][0]["end"] - second["spans"][0]["start"] == len("1 Elm St\nLeeds")
    assert second["doc"] == 2


def test_any_type_precision_counts_overlap_of_any_label() -> None:
    gold = [{"text": "Ann Lee, Leeds", "spans": [{"start": 0, "end": 7, "label": "PERSON"}]}]
    preds = [[{"start": 0, "end": 3, "entity_type": "LOCATION"},
              {"start": 9, "end": 14, "entity_type": "LOCATION"}]]
    m = tool.measures(gold, preds)["measures"]
    assert m["precision (overlap, any type)"] == 0.5
    assert m["any-type recall"] == 1.0 and m["PERSON typed recall"] == 0.0
