"""Helpers for the deployment tests: paths, and deploy/bundle_tool.py loaded by path."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def load_bundle_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_tool", DEPLOY / "bundle_tool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def base_python() -> str:
    """The interpreter behind this venv: what the scripts use to make fresh virtual environments."""
    return os.path.realpath(sys.executable)


def parse_unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file as section -> directive -> values in order (systemd.syntax(7)).

    configparser cannot read these: directives repeat (Environment=, SystemCallFilter=) and an
    empty assignment (CapabilityBoundingSet=) is meaningful.
    """
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    pending = ""
    for raw in path.read_text("utf-8").splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"{path.name}: not a unit file line: {raw!r}")
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections
