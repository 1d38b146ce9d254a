"""Helpers shared by the CLI's topic modules: opening the home, the caller, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from appliance.context import Context, open_context
from appliance.gate import Principal
from appliance.identity import authenticate


def add_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="API token (default $APPLIANCE_TOKEN)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def context(args: argparse.Namespace) -> Context:
    return open_context(args.home)


def caller(ctx: Context, args: argparse.Namespace) -> Principal:
    """The user behind --token or $APPLIANCE_TOKEN (exit 3 and an audit event otherwise)."""
    token = getattr(args, "token", None) or os.environ.get("APPLIANCE_TOKEN")
    return authenticate(ctx, token, channel="cli")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    table = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    for n, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_fields(data: dict[str, Any]) -> None:
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        print(f"{key.ljust(width)}  {value}")
