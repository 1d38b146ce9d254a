"""The command line itself: global options anywhere, help for every option, closed pipes.

These run the real ``appliance`` command in a subprocess where argv or a real pipe matters.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.cli.main import EXIT_BROKEN_PIPE, build_parser


def appliance(*args: str, env: dict[str, str] | None = None,
              stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("APPLIANCE_HOME", "APPLIANCE_TOKEN", "APPLIANCE_URL")}
    return subprocess.run([sys.executable, "-m", "appliance.cli.main", *args],
                          env={**environ, **(env or {})}, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A home made with the options after the verbs, as a new user types them."""
    home = tmp_path_factory.mktemp("argv") / "home"
    done = appliance("init", "--home", str(home))
    assert done.returncode == 0, done.stderr
    assert f"initialised appliance home at {home}" in done.stdout
    done = appliance("user", "add", "olivia", "--role", "operator", "--home", str(home))
    assert done.returncode == 0, done.stderr
    return home, done.stdout.strip().splitlines()[-1]


def parsers(parser: argparse.ArgumentParser, path: str = "appliance"
            ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def test_global_options_after_the_verb_at_any_level(cli_home: tuple[Path, str]) -> None:
    home, token = cli_home
    done = appliance("dataset", "list", "--home", str(home), "--json",
                     env={"APPLIANCE_TOKEN": token})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    # before the verb, as before; and the value after the verb wins over the one before it
    assert appliance("--home", str(home), "user", "list", "--json").returncode == 0
    done = appliance("--home", str(home / "nowhere"), "user", "list", "--home", str(home))
    assert done.returncode == 0 and "olivia" in done.stdout, done.stderr


def test_given_before_the_verb_is_not_reset_by_the_subcommand() -> None:
    args = build_parser().parse_args(["--home", "/srv/a", "dataset", "list"])
    assert args.home == "/srv/a"
    args = build_parser().parse_args(["dataset", "list", "--home", "/srv/b"])
    assert args.home == "/srv/b"
    assert build_parser().parse_args(["dataset", "list"]).home is None


def test_every_command_accepts_the_global_options() -> None:
    missing = [path for path, parser in parsers(build_parser())
               if "--home" not in parser._option_string_actions]
    assert missing == []


def test_every_option_and_command_has_help() -> None:
    """Walk the whole argparse tree: every argument, option and subcommand is described."""
    undocumented = []
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                described = {choice.dest: choice.help for choice in action._choices_actions}
                undocumented += [f"{path} {name}" for name in action.choices
                                 if not described.get(name)]
            elif not action.help or action.help == argparse.SUPPRESS:
                undocumented.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert undocumented == []


def closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone (``| head`` that has exited)."""
    read, write = os.pipe()
    os.close(read)
    return write


def assert_quiet_exit(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == EXIT_BROKEN_PIPE == 141


def test_dataset_list_into_a_closed_pipe(cli_home: tuple[Path, str]) -> None:
    home, token = cli_home
    write = closed_pipe()
    try:
        done = appliance("dataset", "list", "--home", str(home), env={"APPLIANCE_TOKEN": token},
                         stdout=write)
    finally:
        os.close(write)
    assert_quiet_exit(done)


def test_policy_check_into_a_closed_pipe(cli_home: tuple[Path, str]) -> None:
    write = closed_pipe()
    try:
        done = appliance("policy", "check", "dataset.approve", "--as-role", "operator",
                         "--home", str(cli_home[0]), stdout=write)
    finally:
        os.close(write)
    assert_quiet_exit(done)


def test_export_verify_into_a_closed_pipe(cli_home: tuple[Path, str], tmp_path: Path) -> None:
    from appliance.crypto import load_signing_key
    from appliance.training import export

    home = cli_home[0]
    key = load_signing_key(home / "keys" / "audit-signing.key")
    reviewed = export.build_bundle(b"weights", {"model_id": "mdl_1"}, "exp_1", "olivia",
                                   "2026-01-01T00:00:00+00:00", key)
    bundle = tmp_path / "bundle.tar"
    bundle.write_bytes(export.seal_approval(reviewed, "carol", "2026-01-02T00:00:00+00:00", key))
    write = closed_pipe()
    try:
        done = appliance("export", "verify", str(bundle), "--home", str(home), stdout=write)
    finally:
        os.close(write)
    assert_quiet_exit(done)
