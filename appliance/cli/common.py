"""Helpers shared by the CLI's topic modules: opening the home, the caller, output."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from appliance.context import Context, open_context
from appliance.gate import Principal
from appliance.identity import authenticate


def add_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="API token (default $APPLIANCE_TOKEN)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def context(args: argparse.Namespace) -> Context:
    return open_context(args.home)


#: How a CLI user gives a token (the API tells HTTP clients about the header instead).
TOKEN_ADVICE = "set APPLIANCE_TOKEN or pass --token"  # noqa: S105  (advice, not a secret)


def caller(ctx: Context, args: argparse.Namespace) -> Principal:
    """The user behind --token or $APPLIANCE_TOKEN (exit 3 and an audit event otherwise)."""
    token = getattr(args, "token", None) or os.environ.get("APPLIANCE_TOKEN")
    return authenticate(ctx, token, channel="cli", advice=TOKEN_ADVICE)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


# A rule of dashes under the header and nothing else: the columns read as they always did
# (two spaces apart), in plain ASCII, so scripts can split them.
_HEADER_RULE = box.Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """A table (rich). To a terminal: bold headers, long cells wrapped to its width. Otherwise
    plain text: no colour or escape codes, never wrapped or cut, no trailing spaces; values are
    printed as given (no markup, no emoji codes), whatever a dataset name contains."""
    terminal = sys.stdout.isatty()
    table = Table(box=_HEADER_RULE, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0),
                  highlight=False, header_style="bold" if terminal else "")
    for header in headers:
        table.add_column(str(header), no_wrap=not terminal)
    for row in rows:
        table.add_row(*(Text(str(cell)) for cell in row))
    if terminal:
        Console(highlight=False, emoji=False).print(table)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=1_000_000, color_system=None, highlight=False,
            emoji=False).print(table)
    for line in buffer.getvalue().splitlines():
        print(line.rstrip())


def print_fields(data: dict[str, Any]) -> None:
    width = max(len(k) for k in data)
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        print(f"{key.ljust(width)}  {value}")
