"""``appliance pii analyze`` and ``appliance pii evaluate``: the detector, on its own."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from appliance.config import Settings


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pii = commands.add_parser("pii", help="PII detection tools").add_subparsers(
        dest="pii_command", required=True, metavar="ACTION")
    analyze = pii.add_parser("analyze", help="find PII spans: JSONL {text} in, spans out")
    analyze.add_argument("file", nargs="?", default="-",
                         help="input file (default -: standard input)")
    analyze.add_argument("--plain", action="store_true", help="one text per line, not JSONL")
    analyze.set_defaults(handler=cmd_analyze)
    evaluate = pii.add_parser("evaluate",
                              help="precision/recall per entity against gold spans")
    evaluate.add_argument("gold", type=Path, help="JSONL of texts with their gold PII spans")
    evaluate.add_argument("--pred", type=Path, help="predictions (default: run the analyzer)")
    evaluate.add_argument("--thresholds", nargs="?", const="default", metavar="T1,T2,...",
                          help="also print each entity's precision/recall at these thresholds "
                               "(default 0.3,0.4,...,0.9), the others as configured")
    evaluate.add_argument("--entity", action="append", metavar="ENTITY",
                          help="sweep only these entities (repeatable; default: those in gold)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.set_defaults(handler=cmd_eval)


def _settings(args: argparse.Namespace) -> Settings:
    """The home's settings when there is one; defaults otherwise (no home needed)."""
    from appliance.config import load_settings
    from appliance.errors import ConfigurationError

    try:
        return load_settings(args.home)
    except ConfigurationError:
        return Settings()


def cmd_analyze(args: argparse.Namespace) -> int:
    from appliance.redaction import analyze_lines, build_analyzer

    analyzer = build_analyzer(_settings(args))
    source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
    with source:
        for result in analyze_lines(source, plain=args.plain, analyzer=analyzer):
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from appliance.errors import InvalidInput
    from appliance.redaction import build_analyzer, evaluate
    from appliance.redaction.evaluation import (
        DEFAULT_GRID,
        detect_gold,
        read_jsonl,
        render_sweep,
        threshold_sweep,
    )

    if args.thresholds and args.pred:
        raise InvalidInput("--thresholds runs the analyzer: it cannot score --pred files")
    grid: tuple[float, ...] = DEFAULT_GRID
    if args.thresholds and args.thresholds != "default":
        try:
            grid = tuple(float(t) for t in args.thresholds.split(","))
        except ValueError:
            raise InvalidInput(f"--thresholds wants numbers like 0.4,0.5,0.6, got "
                               f"{args.thresholds!r}") from None
    sweep = None
    if args.thresholds:
        # One detector run serves both: the table at the configured thresholds, and the sweep.
        analyzer = build_analyzer(_settings(args))
        gold = read_jsonl(args.gold)
        detections = detect_gold(gold, analyzer, min(grid))
        found = [[s.to_dict() for s in analyzer.resolve(d)] for d in detections]
        table = evaluate(gold, found)
        sweep = threshold_sweep(gold, analyzer, grid, args.entity, detections=detections)
    else:
        table = evaluate(args.gold, args.pred,
                         analyzer=None if args.pred else build_analyzer(_settings(args)))
    if args.json:
        out = table.to_dict()
        if sweep is not None:
            out["thresholds"] = [asdict(r) for r in sweep]
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table.render().rstrip("\n") + "\n")
        if sweep is not None:
            sys.stdout.write("\nthe trade-off, one entity's threshold changed at a time:\n")
            sys.stdout.write(render_sweep(sweep) + "\n")
    return 0
