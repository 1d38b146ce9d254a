"""Policy input documents for the tests (docs/internals.md, policy section)."""

from __future__ import annotations

from typing import Any


def request(name: str, role: str | list[str], action: str, resource: dict[str, Any] | None = None,
            purpose: str | None = None) -> dict[str, Any]:
    """A policy input document (docs/internals.md, policy section)."""
    document: dict[str, Any] = {
        "user": {"name": name, "roles": [role] if isinstance(role, str) else role},
        "action": action,
        "resource": resource if resource is not None else {},
    }
    if purpose is not None:
        document["purpose"] = purpose
    return document


def dataset(**changes: Any) -> dict[str, Any]:
    """A dataset resource uploaded by olivia, PENDING_REVIEW, internal, not yet approved."""
    base: dict[str, Any] = {
        "type": "dataset", "id": "ds_1", "state": "PENDING_REVIEW", "classification": "internal",
        "uploaded_by": "olivia", "requested_by": None, "approvals": [],
    }
    return {**base, **changes}


def export(**changes: Any) -> dict[str, Any]:
    """A model export requested by olivia, PENDING_REVIEW."""
    base: dict[str, Any] = {"type": "export", "id": "ex_1", "state": "PENDING_REVIEW",
                            "requested_by": "olivia"}
    return {**base, **changes}
