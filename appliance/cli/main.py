"""The ``appliance`` command: one parser, subcommands registered by topic modules.

Every :class:`ApplianceError` becomes one clear line on stderr and its exit code; anything else is
a bug and keeps its traceback. The global options (``--home``) are accepted before the command and
after it, at any level (``appliance dataset list --home DIR``). Output cut short by a closed pipe
(``appliance audit log | head``) ends quietly with exit 141, as a command killed by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from appliance.errors import ApplianceError

from . import admin, audit, datasets, demo, feedback, pii

#: 128 + SIGPIPE: what the shell reports for a command whose reader went away (``yes | head``).
EXIT_BROKEN_PIPE = 141


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="Air-gapped appliance for regulated data: redact, encrypt, govern, fine-tune.",
    )
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (admin, datasets, audit, pii, demo, feedback):
        module.register(commands)
    _register_optional(commands)
    for sub in _subparsers(parser):
        # SUPPRESS: a subcommand that was not given --home must not overwrite the value given
        # before the command with its own default.
        add_global_options(sub, default=argparse.SUPPRESS)
    return parser


def add_global_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    """The options every command accepts, wherever they appear on the command line."""
    if "--home" not in parser._option_string_actions:
        parser.add_argument("--home", default=default,
                            help="home directory (default $APPLIANCE_HOME or ./var/appliance)")


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser``, each once (aliases share a parser)."""
    found: dict[int, argparse.ArgumentParser] = {}
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if id(sub) not in found:
                        found[id(sub)] = sub
                        pending.append(sub)
    return list(found.values())


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
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        return _reader_gone()
    except ApplianceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _reader_gone() -> int:
    """The reader of stdout went away (``| head``): stop without a traceback.

    Python's recipe (docs of the signal module): point stdout at /dev/null, so the interpreter's
    final flush of what is still buffered cannot fail a second time.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
