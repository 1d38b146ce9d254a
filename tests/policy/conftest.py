"""Fixtures for the policy tests: the shipped policy, its engine, and editable copies of it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.policy import EmbeddedEngine, default_policy_dir

PolicyCopy = Callable[..., Path]


@pytest.fixture(scope="session")
def policy_dir() -> Path:
    found = default_policy_dir()
    assert found is not None, "the repository's policies/ directory was not found"
    return found


@pytest.fixture(scope="session")
def engine(policy_dir: Path) -> EmbeddedEngine:
    return EmbeddedEngine(policy_dir)


@pytest.fixture
def policy_copy(policy_dir: Path, tmp_path: Path) -> PolicyCopy:
    """A copy of the shipped policy in tmp_path, optionally with data.json or authz.rego edited.

    ``edit_data`` gets the parsed data.json to change in place; ``replace`` maps an exact text
    of authz.rego to its replacement (and fails if the text is not there).
    """

    def make(edit_data: Callable[[dict[str, Any]], None] | None = None,
             replace: dict[str, str] | None = None, name: str = "policies") -> Path:
        root = tmp_path / name
        shutil.copytree(policy_dir, root)
        if edit_data is not None:
            data_file = root / "appliance" / "data.json"
            data = json.loads(data_file.read_text("utf-8"))
            edit_data(data)
            data_file.write_text(json.dumps(data, indent=2), "utf-8")
        rego = root / "appliance" / "authz.rego"
        source = rego.read_text("utf-8")
        for old, new in (replace or {}).items():
            assert old in source, f"authz.rego has no {old!r}"
            source = source.replace(old, new)
        rego.write_text(source, "utf-8")
        return root

    return make

