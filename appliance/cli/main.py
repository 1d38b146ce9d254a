"""The ``appliance`` command: one parser, subcommands registered by topic modules.

Every :class:`ApplianceError` becomes one clear line on stderr and its exit code; anything else is
a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from appliance.errors import ApplianceError

from . import admin, audit, datasets, demo, pii


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="Air-gapped appliance for regulated data: redact, encrypt, govern, fine-tune.",
    )
    parser.add_argument("--home",
                        help="home directory (default $APPLIANCE_HOME or ./var/appliance)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (admin, datasets, audit, pii, demo):
        module.register(commands)
    _register_optional(commands)
    return parser


def _register_optional(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Topic modules that land with later subsystems (training, the HTTP service)."""
    import importlib

    for name in ("appliance.cli.training", "appliance.cli.serve"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(commands)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
