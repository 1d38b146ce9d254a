"""``appliance audit ...``: verify, checkpoint, pubkey, log, export.

Verification needs only the log and the public key; it never opens the master key, so an auditor
can run it on a copy of ``audit/`` on their own machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from appliance import audit as audit_log
from appliance.config import resolve_home
from appliance.context import AUDIT_DIR, KEYS_DIR, SIGNING_KEY
from appliance.errors import InvalidInput
from appliance.gate import authorize

from .common import add_json, add_token, caller, context, print_json, print_table
from .remote import backend

if TYPE_CHECKING:
    from appliance.api.auditing import Filters


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = commands.add_parser("audit", help="the tamper-evident audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")

    verify = audit.add_parser("verify", help="check the hash chain and every signed checkpoint")
    verify.add_argument("--pubkey", type=Path, help="audit public key (PEM); default: the home's")
    verify.add_argument("--checkpoint", type=Path,
                        help="a checkpoint saved earlier: prove the log was only appended to")
    verify.add_argument("--log-dir", type=Path, help="verify a copy of the audit directory")
    add_json(verify)
    verify.set_defaults(handler=cmd_verify)

    checkpoint = audit.add_parser("checkpoint", help="the latest signed checkpoint, to keep")
    checkpoint.add_argument("--out", type=Path, help="file to write (default standard output)")
    add_token(checkpoint)
    checkpoint.set_defaults(handler=cmd_checkpoint)

    pubkey = audit.add_parser("pubkey", help="print the audit public key (PEM)")
    pubkey.set_defaults(handler=cmd_pubkey)

    log = audit.add_parser("log", help="query events, newest first")
    _add_filters(log)
    log.add_argument("--limit", type=int, default=100, help="at most this many events")
    log.add_argument("--offset", type=int, default=0, help="skip this many matching events")
    log.add_argument("--up-to-seq", type=int, metavar="SEQ",
                     help="leave out events after SEQ (newest first, pass the first page's top "
                          "seq with --offset so new events do not shift later pages)")
    add_json(log)
    add_token(log)
    log.set_defaults(handler=cmd_log)

    export = audit.add_parser("export", help="export the matching events as JSONL or CSV")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl",
                        help="jsonl (default) or csv")
    export.add_argument("--out", type=Path, help="file (default standard output)")
    _add_filters(export)
    add_token(export)
    export.set_defaults(handler=cmd_export)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    """The same filters as the API's query parameters and the console's form."""
    for name, example in (("actor", "alice"), ("action", "dataset.approve"),
                          ("resource", "dataset:ds_...")):
        group = parser.add_mutually_exclusive_group()
        group.add_argument(f"--{name}", help=f"{name} is exactly this (e.g. {example})")
        group.add_argument(f"--{name}-prefix", metavar="TEXT", help=f"{name} starts with TEXT")
        group.add_argument(f"--{name}-contains", metavar="TEXT", help=f"{name} contains TEXT")
    parser.add_argument("--decision", choices=("allow", "deny"), help="allow or deny")
    parser.add_argument("--since", help="ISO 8601 time: events at or after it")
    parser.add_argument("--until", help="ISO 8601 time: events before it")
    parser.add_argument("--oldest-first", action="store_true",
                        help="oldest event first (default: newest first)")


def cmd_verify(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    log_dir = args.log_dir or home / AUDIT_DIR
    pub_path = args.pubkey or home / KEYS_DIR / (SIGNING_KEY.removesuffix(".key") + ".pub")
    if not pub_path.is_file():
        raise InvalidInput(f"{pub_path}: no public key; pass --pubkey FILE")
    public_key = audit_log.load_public_key_file(pub_path)
    saved = audit_log.read_checkpoint_file(args.checkpoint) if args.checkpoint else None
    report = audit_log.verify_log(log_dir, public_key, checkpoint=saved)
    if args.json:
        print_json(report.as_dict())
    else:
        print(f"OK: {report.events} events, {report.checkpoints} signed checkpoints verified")
        print(f"head {report.head_hash} (seq {report.events})")
        for warning in report.warnings:
            print(f"WARNING: {warning}")
        if saved is not None:
            print("the log only grew since the given checkpoint")
    return 0


def cmd_checkpoint(args: argparse.Namespace) -> int:
    ctx = context(args)
    principal = caller(ctx, args)
    authorize(ctx, principal, "audit.read", {"type": "audit", "id": "checkpoint"}, "audit")
    checkpoint = ctx.audit.latest_checkpoint()
    text = audit_log.dump_checkpoint(checkpoint)
    if args.out:
        args.out.write_text(text, "utf-8")
        print(f"saved checkpoint at tree size {checkpoint['tree_size']} to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_pubkey(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    pub = home / KEYS_DIR / (SIGNING_KEY.removesuffix(".key") + ".pub")
    sys.stdout.write(pub.read_text("ascii"))
    return 0


def _filters(args: argparse.Namespace) -> Filters:
    from appliance.api import auditing  # not at import: it loads the HTTP service

    actor, action, resource = (
        auditing.text_filter(name, getattr(args, name), getattr(args, f"{name}_prefix"),
                             getattr(args, f"{name}_contains"))
        for name in auditing.TEXT_FIELDS)
    return auditing.Filters(actor, action, resource, args.decision or None,
                            auditing.iso_time(args.since, "--since"),
                            auditing.iso_time(args.until, "--until"),
                            newest_first=not args.oldest_first,
                            up_to_seq=getattr(args, "up_to_seq", None))


def cmd_log(args: argparse.Namespace) -> int:
    if args.limit < 1 or args.offset < 0:
        raise InvalidInput("--limit must be at least 1 and --offset not negative")
    events = backend(args).audit_query(_filters(args), limit=args.limit, offset=args.offset)
    if args.json:
        print_json(events)
        return 0
    rows = []
    for e in events:
        rows.append((e["seq"], e["time"][:19], e["actor"], e["action"], e["resource"],
                     e["decision"], "; ".join(e["reasons"])[:60]))
    print_table(rows, ("SEQ", "TIME", "ACTOR", "ACTION", "RESOURCE", "DECISION", "REASONS"))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    target = backend(args)
    filters = _filters(args)
    if args.out:
        with args.out.open("w", encoding="utf-8", newline="") as out:
            target.audit_export(args.format, out, filters)
        print(f"exported to {args.out}")
    else:
        target.audit_export(args.format, sys.stdout, filters)
    return 0
