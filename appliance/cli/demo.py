"""``appliance demo``: the narrated end-to-end workflow on a throwaway home."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser("demo", help="run the whole workflow on a throwaway home")
    demo.add_argument("--no-train", action="store_true", help="skip the fine-tuning step")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from appliance.demo import run_demo

    summary = run_demo(Path(args.home) if args.home else None, train=not args.no_train)
    return 1 if summary["plaintext_hits"] else 0
