"""Hand-written PII evaluation sets (issue 16): convert the marked-up sources, check, report.

Sources: ``tools/data/pii_eval/prose.txt`` and ``forms.txt``, one document per block, blocks
separated by a line ``---``. A span is ``[[LABEL|text]]`` (the label ends at the first ``|``, the
text at the first ``]]``; a span may run over several lines, e.g. a multi-line address). The
JSONL beside each source holds ``{"text", "spans": [{"start", "end", "label"}], "source", "doc"}``
per document (``doc`` counts from 1 in file order).

    python tools/pii_eval.py            # write prose.jsonl and forms.jsonl
    python tools/pii_eval.py --check    # exit 1 unless both JSONL files are current
    python tools/pii_eval.py report [--json]   # the issue's table: both sets, held-out file

The converter is stdlib only; ``report`` imports the appliance and loads the bundled NER model.
These sets are for measurement only: never train on them or calibrate thresholds on them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tools" / "data" / "pii_eval"
SETS = ("prose", "forms")
HELDOUT = ROOT / "tests" / "data" / "pii_heldout.jsonl"
LABELS = frozenset({
    "PERSON", "LOCATION", "ORGANIZATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
    "IBAN_CODE", "US_SSN", "IP_ADDRESS", "URL", "DATE_TIME", "BANK_ACCOUNT", "US_PASSPORT",
    "US_DRIVER_LICENSE",
})
_SPAN = re.compile(r"\[\[([^|\]\[]*)\|(.*?)\]\]", re.DOTALL)
# The table: (measure, target). "any type" ignores the type; the others need it to agree.
TARGETS: list[tuple[str, float]] = [
    ("any-type recall", 0.97), ("typed recall, all entities", 0.90),
    ("precision (overlap, any type)", 0.88), ("PERSON typed recall", 0.92),
    ("ORGANIZATION typed recall", 0.80), ("LOCATION typed recall", 0.90),
    ("CREDIT_CARD recall", 0.95), ("PHONE_NUMBER recall", 0.95), ("DATE_TIME recall", 0.80),
]


class MarkupError(ValueError):
    """Malformed markup; the message starts with ``file:line:``."""


def _documents(path: Path) -> list[tuple[int, str]]:
    """(first line number, raw block) per document, split on lines that are exactly ``---``."""
    blocks: list[tuple[int, str]] = []
    start, lines = 1, list[str]()
    for number, line in enumerate(path.read_text("utf-8").split("\n"), start=1):
        if line == "---":
            blocks.append((start, "\n".join(lines)))
            start, lines = number + 1, []
        else:
            lines.append(line)
    blocks.append((start, "\n".join(lines)))
    return blocks


def _parse_block(raw: str, where: str, first_line: int) -> tuple[str, list[dict[str, Any]]]:
    def fail(offset: int, message: str) -> MarkupError:
        return MarkupError(f"{where}:{first_line + raw.count(chr(10), 0, offset)}: {message}")

    text: list[str] = []
    found: list[tuple[int, int, str]] = []
    pos = 0
    length = 0
    for m in _SPAN.finditer(raw):
        between = raw[pos : m.start()]
        if "[[" in between or "]]" in between:
            bad = pos + (between.find("[[") if "[[" in between else between.find("]]"))
            raise fail(bad, "unbalanced [[ or ]] outside a span")
        label, body = m.group(1), m.group(2)
        if label not in LABELS:
            raise fail(m.start(), f"unknown label {label!r}")
        if not body or body != body.strip():
            raise fail(m.start(), f"empty span or span with outer whitespace: {body!r}")
        if "[[" in body:
            raise fail(m.start(), "nested span")
        text.append(between)
        length += len(between)
        found.append((length, length + len(body), label))
        text.append(body)
        length += len(body)
        pos = m.end()
    tail = raw[pos:]
    if "[[" in tail or "]]" in tail:
        raise fail(pos + max(tail.find("[["), tail.find("]]")), "unbalanced [[ or ]]")
    joined = "".join(text) + tail
    stripped = joined.strip("\n")
    shift = len(joined) - len(joined.lstrip("\n"))
    spans: list[dict[str, Any]] = [{"start": a - shift, "end": b - shift, "label": label}
                                   for a, b, label in found]
    if not stripped.strip():
        raise fail(0, "empty document (two --- lines in a row?)")
    return stripped, spans


def parse_source(path: Path) -> list[dict[str, Any]]:
    """The records of one marked-up source file, in file order."""
    name = path.stem
    records = []
    for doc, (line, raw) in enumerate(_documents(path), start=1):
        text, spans = _parse_block(raw, str(path.relative_to(ROOT) if path.is_relative_to(ROOT)
                                           else path), line)
        records.append({"text": text, "spans": spans, "source": name, "doc": doc})
    return records


def _render(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def stale_sets(data: Path = DATA) -> list[str]:
    """Names of the sets whose JSONL is missing or differs from what the source gives."""
    return [name for name in SETS
            if not (data / f"{name}.jsonl").exists()
            or (data / f"{name}.jsonl").read_text("utf-8") != _render(
                parse_source(data / f"{name}.txt"))]


def write_sets(data: Path = DATA) -> dict[str, int]:
    counts = {}
    for name in SETS:
        records = parse_source(data / f"{name}.txt")
        (data / f"{name}.jsonl").write_text(_render(records), "utf-8")
        counts[name] = len(records)
    return counts


def read_set(name: str, data: Path = DATA) -> list[dict[str, Any]]:
    with open(data / f"{name}.jsonl", encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]


# ---------------------------------------------------------------- report (needs the appliance)

def measures(gold: list[dict[str, Any]], preds: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The issue's measures, from ``evaluate()``'s overlap rule; any-type precision is ours."""
    from appliance.redaction import evaluate

    table = evaluate(gold, preds)
    rows = table.to_dict()
    overall = rows["overall"]

    def recall(label: str) -> float | None:
        row = rows["labels"].get(label)
        return row["recall"] if row and row["gold"] else None

    predicted = sum(len(p) for p in preds)
    hits = sum(any(int(q["start"]) < g["end"] and g["start"] < int(q["end"]) for g in doc["spans"])
               for doc, p in zip(gold, preds, strict=True) for q in p)
    values = {
        "any-type recall": overall["any_label_recall"],
        "typed recall, all entities": overall["recall"],
        "precision (overlap, any type)": round(hits / predicted, 4) if predicted else None,
        "PERSON typed recall": recall("PERSON"),
        "ORGANIZATION typed recall": recall("ORGANIZATION"),
        "LOCATION typed recall": recall("LOCATION"),
        "CREDIT_CARD recall": recall("CREDIT_CARD"),
        "PHONE_NUMBER recall": recall("PHONE_NUMBER"),
        "DATE_TIME recall": recall("DATE_TIME"),
    }
    extra = {"records": len(gold), "gold spans": overall["gold"], "predicted spans": predicted,
             "precision (overlap, same type)": overall["precision"],
             "PERSON found at all": rows["labels"].get("PERSON", {}).get("any_label_recall")}
    return {"measures": values, "extra": extra, "labels": rows["labels"]}


def _run_report(as_json: bool) -> int:
    from appliance.redaction import build_analyzer

    analyzer = build_analyzer(None)
    sets = {name: read_set(name) for name in SETS}
    with open(HELDOUT, encoding="utf-8") as src:
        sets["pii_heldout"] = [json.loads(line) for line in src if line.strip()]
    result: dict[str, Any] = {}
    for name, gold in sets.items():
        preds = []
        for i in range(0, len(gold), 32):
            batch = analyzer.analyze_batch([g["text"] for g in gold[i : i + 32]])
            preds += [[s.to_dict() for s in spans] for spans in batch]
        result[name] = measures(gold, preds)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(render_report(result))
    own = [result[n]["measures"][m] for n in SETS for m, _ in TARGETS]
    goal = [t for _ in SETS for _, t in TARGETS]
    return 0 if all(v is not None and v >= t for v, t in zip(own, goal, strict=True)) else 1


def render_report(result: dict[str, Any]) -> str:
    lines = []
    for name, r in result.items():
        e = r["extra"]
        lines.append(f"== {name}: {e['records']} records, {e['gold spans']} gold spans, "
                     f"{e['predicted spans']} predicted")
        lines.append(f"{'measure':<32}{'value':>8}{'target':>8}  result")
        for measure, target in TARGETS:
            v = r["measures"][measure]
            shown = f"{v:.3f}" if v is not None else "-"
            verdict = "-" if v is None else ("pass" if v >= target else "FAIL")
            lines.append(f"{measure:<32}{shown:>8}{'>=' + format(target, '.2f'):>8}  {verdict}")
        lines.append(f"{'(precision, same type)':<32}{e['precision (overlap, same type)']:>8.3f}")
        if e["PERSON found at all"] is not None:
            lines.append(f"{'(PERSON found at all)':<32}{e['PERSON found at all']:>8.3f}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["convert", "report"], default="convert")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the JSONL is current")
    parser.add_argument("--json", action="store_true", help="report: print JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            return _run_report(args.json)
        if args.check:
            stale = stale_sets()
            for name in stale:
                print(f"tools/data/pii_eval/{name}.jsonl is not current: "
                      "run python tools/pii_eval.py", file=sys.stderr)
            return 1 if stale else 0
        for name, n in write_sets().items():
            print(f"{name}: {n} documents")
        return 0
    except MarkupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
