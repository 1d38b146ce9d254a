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
