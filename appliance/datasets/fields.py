"""Default closed: every value of a record is redacted unless its field is kept.

A record is walked as a tree: dict keys join into dotted paths (``customer.address.city``) and
lists are transparent (every item of ``tags`` is at path ``tags``). Each leaf with text (a string,
or a number, read as its decimal text) belongs to the field at its path. A field is kept as given
when it or an ancestor is a kept field (``keep_fields`` and the label field); every other field is
redacted, whatever the task, so a field nobody thought about (``customer_email``, ``note``) cannot
reach the vault unredacted.

Keys the spec does not name are data too (``{"contacts": {"maria@example.com": 1}}``): they are
scanned and redacted like values, so neither the stored record nor the report's field names can
carry a value. Booleans and nulls hold no text and stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: The report's row for keys that held PII (the keys themselves are never named).
KEY_FIELD = "(field names)"


@dataclass
class Leaf:
    """One value in a record: where it sits, so a redacted text can be put back."""

    record: int
    container: dict[str, Any] | list[Any]
    slot: Any
    value: str | int | float

    @property
    def text(self) -> str:
        return self.value if isinstance(self.value, str) else str(self.value)

    def replace(self, text: str) -> None:
        self.container[self.slot] = text


@dataclass
class FieldLeaves:
    kept: bool
    leaves: list[Leaf] = field(default_factory=list)


def is_covered(path: str, fields: frozenset[str]) -> bool:
    """True when ``path`` is one of ``fields`` or lies inside one of them."""
    parts = path.split(".")
    return any(".".join(parts[:n]) in fields for n in range(1, len(parts) + 1))


def named_prefixes(paths: list[str]) -> frozenset[str]:
    """Every spec-named path and each of its ancestors (``a.b.c`` names ``a`` and ``a.b``)."""
    out: set[str] = set()
    for path in paths:
        parts = path.split(".")
        out.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    return frozenset(out)


def scanned_keys(record: dict[str, Any], kept: frozenset[str],
                 named: frozenset[str]) -> Iterator[str]:
    """Keys that are data: not named by the spec and not inside a kept field."""
    for path, node in _dicts(record, ""):
        for key in node:
            full = f"{path}.{key}" if path else key
            if full not in named and not is_covered(full, kept):
                yield key


def rename_keys(record: dict[str, Any], kept: frozenset[str], named: frozenset[str],
                renamed: dict[str, str]) -> None:
    """Replace keys that held PII by their redacted text, in place; clashes get a number."""
    for path, node in list(_dicts(record, "")):
        items = list(node.items())
        if not any(k in renamed for k, _ in items):
            continue
        node.clear()
        for key, value in items:
            full = f"{path}.{key}" if path else key
            new = key
            if key in renamed and full not in named and not is_covered(full, kept):
                new = renamed[key]
                n = 2
                while new in node:  # two e-mail keys both become <EMAIL_ADDRESS>
                    new, n = f"{renamed[key]} ({n})", n + 1
            node[new] = value


def collect_leaves(batch: list[dict[str, Any]], kept: frozenset[str]) -> dict[str, FieldLeaves]:
    """The batch's values grouped by field path, in order of first appearance."""
    fields: dict[str, FieldLeaves] = {}
    for index, record in enumerate(batch):
        for path, container, slot, value in _leaves(record, ""):
            group = fields.get(path)
            if group is None:
                group = fields[path] = FieldLeaves(kept=is_covered(path, kept))
            group.leaves.append(Leaf(index, container, slot, value))
    return fields


def _dicts(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _dicts(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item, path)


def _leaves(node: Any, path: str) -> Iterator[tuple[str, Any, Any, Any]]:
    items: Any = node.items() if isinstance(node, dict) else enumerate(node)
    for slot, value in items:
        child = (f"{path}.{slot}" if path else slot) if isinstance(node, dict) else path
        if isinstance(value, dict | list):
            yield from _leaves(value, child)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            yield child, node, slot, value


def leaf_text(record: dict[str, Any], path: str, ordinal: int) -> str | None:
    """The text of the ``ordinal``-th leaf at ``path`` (as ``collect_leaves`` numbers them)."""
    seen = 0
    for leaf_path, _container, _slot, value in _leaves(record, ""):
        if leaf_path == path:
            if seen == ordinal:
                return value if isinstance(value, str) else str(value)
            seen += 1
    return None
