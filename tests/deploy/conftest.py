"""Fixtures for the deployment tests."""

from __future__ import annotations

from types import ModuleType

import pytest
from deploy_support import load_bundle_tool


@pytest.fixture(scope="session")
def bundle_tool() -> ModuleType:
    return load_bundle_tool()
