"""Shared fixtures: a real home (real keys, SQLite, vault, audit log, Rego policy) per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import appliance  # noqa: F401  (forces offline mode before any library is imported)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from appliance.context import init_home

    root = tmp_path / "home"
    init_home(root)
    return root


@pytest.fixture
def ctx(home: Path) -> Iterator[object]:
    from appliance.context import open_context

    context = open_context(home)
    yield context
    context.close()


@pytest.fixture
def people(ctx: object) -> dict[str, object]:
    """One principal per role (two compliance officers), with their tokens."""
    from appliance.gate import Principal
    from appliance.identity import add_user

    out: dict[str, object] = {}
    for name, role in (("olivia", "operator"), ("oscar", "operator"), ("carol", "compliance"),
                       ("dmitri", "compliance"), ("audra", "auditor"), ("adam", "admin")):
        _, token = add_user(ctx, name, role)  # type: ignore[arg-type]
        out[name] = Principal(name, role)
        out[f"{name}_token"] = token
    return out
