"""Calibrate the NER entities' thresholds in ``recognizers.yaml`` on generated validation data.

    .venv/bin/python tools/calibrate_pii.py                 # print the sweep and the choice
    .venv/bin/python tools/calibrate_pii.py --write         # and write the thresholds block

The validation set is ``tools.pii_corpus`` with its own seed (``--seed``, default 4242: no
training run uses it), never the hand-written evaluation sets (``tools/data/pii_eval``) and never
``tests/data/pii_heldout.jsonl``: those only measure. For each entity the detectors run once and
every threshold of the grid is tried (``appliance.redaction.evaluation.threshold_sweep``); the
choice maximises F-beta with beta = 2 (recall counts four times precision: a missed name is a
leak, an extra placeholder costs a word), the lower threshold on ties. Precision and recall are
typed (the same entity type), the overlap rule of ``appliance pii evaluate``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

YAML = ROOT / "appliance" / "redaction" / "recognizers.yaml"
GRID = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 .. 0.95
_BLOCK = re.compile(r"^# Per-entity min scores.*\n(?:#.*\n)*thresholds:\n(?:  .*\n)*", re.M)


def f_beta(p: float, r: float, beta: float) -> float:
    b2 = beta * beta
    return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0


def choose(rows: list[Any], beta: float) -> dict[str, dict[str, float]]:
    """{entity: {threshold, precision, recall, f_beta}}: the best F-beta, lowest on ties."""
    best: dict[str, dict[str, float]] = {}
    for r in sorted(rows, key=lambda r: (r.entity, r.threshold)):
        score = round(f_beta(r.precision, r.recall, beta), 4)
        if r.entity not in best or score > best[r.entity]["f_beta"]:
            best[r.entity] = {"threshold": r.threshold, "precision": r.precision,
                              "recall": r.recall, "f_beta": score}
    return best


def yaml_block(chosen: dict[str, dict[str, float]], n: int, seed: int, beta: float) -> str:
    lines = ["# Per-entity min scores (entity -> score in [0, 1]); unlisted entities use "
             "score_threshold",
             "# (patterns) or ner.min_score (NER). Calibrated by tools/calibrate_pii.py "
             f"(--n {n} --seed {seed}, F{beta:g}):",
             "# re-run it after retraining the NER model.",
             "thresholds:"]
    lines += [f"  {entity}: {c['threshold']:.2f}" for entity, c in sorted(chosen.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1500, help="validation records to generate")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--beta", type=float, default=2.0, help="F-beta's beta (recall weight)")
    parser.add_argument("--write", action="store_true", help="rewrite the thresholds block")
    parser.add_argument("--json", action="store_true", help="print the choice as JSON")
    args = parser.parse_args(argv)

    from appliance.redaction import build_analyzer
    from appliance.redaction.evaluation import render_sweep, threshold_sweep
    from tools.pii_corpus.corpus import generate

    gold = [{"text": r["text"], "spans": r["spans"]} for r in generate(args.n, args.seed)]
    analyzer = build_analyzer(None)
    entities = analyzer.ner.supported_entities if analyzer.ner else []
    rows = threshold_sweep(gold, analyzer, GRID, entities)
    chosen = choose(rows, args.beta)
    if args.json:
        print(json.dumps(chosen, indent=2))
    else:
        print(render_sweep(rows))
        print(f"\nchosen (best F{args.beta:g}, the lower threshold on ties):")
        for entity, c in sorted(chosen.items()):
            print(f"  {entity:<14} {c['threshold']:.2f}  P {c['precision']:.3f}  "
                  f"R {c['recall']:.3f}  F{args.beta:g} {c['f_beta']:.3f}")
    if args.write:
        text = YAML.read_text("utf-8")
        block = yaml_block(chosen, args.n, args.seed, args.beta)
        if not _BLOCK.search(text):
            print(f"no thresholds block found in {YAML}", file=sys.stderr)
            return 2
        YAML.write_text(_BLOCK.sub(block, text, count=1), "utf-8")
        print(f"wrote {YAML.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
