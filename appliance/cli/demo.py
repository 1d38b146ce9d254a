"""``appliance demo``: the narrated end-to-end workflow on a throwaway home."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser("demo", help="run the whole workflow on a throwaway home")
    demo.add_argument("--no-train", action="store_true",
                      help="skip every training step (classifier, chat model, feedback loop)")
    demo.add_argument("--no-sft", action="store_true",
                      help="skip the chat model's fine-tuning and the feedback loop after it "
                           "(the classifier still trains)")
    demo.add_argument("--no-feedback", action="store_true",
                      help="skip the feedback loop (campaign, reward model, DPO) after SFT")
    demo.add_argument("--sft-base", type=Path, metavar="DIR",
                      help="a local causal LM directory to tune the chat model from (registered "
                           "by the demo's admin; default: the bundled SmolLM2)")
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from appliance.demo import run_demo

    summary = run_demo(Path(args.home) if args.home else None, train=not args.no_train,
                       sft=not (args.no_train or args.no_sft),
                       sft_base=args.sft_base.resolve() if args.sft_base else None,
                       feedback=not args.no_feedback)
    return 1 if summary["plaintext_hits"] else 0
