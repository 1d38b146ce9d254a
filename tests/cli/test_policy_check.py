"""``appliance policy check``: the README's example means something, the resource is documented."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.gate import RESOURCE_FIELDS

README = Path(__file__).resolve().parents[2] / "README.md"


def appliance(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    return subprocess.run([sys.executable, "-m", "appliance.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("policy") / "home")
    assert appliance("init", "--home", path).returncode == 0
    return path


def readme_example() -> list[str]:
    """The README's ``appliance policy check`` command, continuation lines joined."""
    text = README.read_text("utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("appliance policy check"))
    return shlex.split(line)[1:]


def reasons(out: str) -> list[str]:
    return [line.strip()[2:] for line in out.splitlines() if line.startswith("  - ")]


def test_readme_example_denies_for_one_clear_reason(home: str) -> None:
    done = appliance(*readme_example(), "--home", home)
    assert done.returncode == 4, done.stderr
    assert done.stdout.startswith("DENY: dataset.approve as compliance")
    assert reasons(done.stdout) == [
        "separation_of_duties: carol uploaded dataset ds_1 and cannot approve it"]


def test_readme_example_by_another_uploader_is_allowed(home: str) -> None:
    args = readme_example()
    at = args.index("--resource") + 1
    resource = json.loads(args[at])
    args[at] = json.dumps({**resource, "uploaded_by": "olivia"})
    done = appliance(*args, "--home", home, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["allow"] is True


def test_help_documents_every_resource_field(home: str) -> None:
    done = appliance("policy", "check", "--help")
    assert done.returncode == 0
    fields = done.stdout.split("resource fields (--resource):", 1)[1]
    documented = re.findall(r"^  (\w+) {2,}\S", fields, flags=re.MULTILINE)
    assert sorted(documented) == sorted(RESOURCE_FIELDS)


def test_unknown_resource_field_is_refused(home: str) -> None:
    done = appliance("policy", "check", "dataset.approve", "--as-role", "compliance",
                     "--resource", '{"type":"dataset","uploadedby":"carol"}', "--home", home)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --resource: unknown field(s) uploadedby; the policy "
                                  "reads type, id, state,")
