"""The hazmat boundary: only ``appliance/crypto/_primitives.py`` imports ``cryptography``."""

from __future__ import annotations

import ast
from pathlib import Path

import appliance

PACKAGE = Path(appliance.__file__).parent
ALLOWED = PACKAGE / "crypto" / "_primitives.py"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_primitives_imports_cryptography() -> None:
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != ALLOWED
        and any(name.split(".")[0] == "cryptography" for name in imported_modules(path))
    ]
    assert offenders == [], f"import the recipes from appliance.crypto instead: {offenders}"


def test_primitives_module_opens_with_a_warning() -> None:
    import appliance.crypto._primitives as primitives

    assert (primitives.__doc__ or "").startswith("WARNING: hazardous materials")
