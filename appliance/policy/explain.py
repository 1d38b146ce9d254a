"""Explaining a decision: ``appliance policy check ACTION --as-role ROLE [--resource JSON]``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from appliance.errors import InvalidInput
from appliance.policy.decision import Decision, PolicyEngine


def build_input(
    *,
    user: str,
    roles: Sequence[str],
    action: str,
    resource: Mapping[str, Any] | None = None,
    purpose: str | None = None,
) -> dict[str, Any]:
    """The policy input document (docs/internals.md, policy section)."""
    document: dict[str, Any] = {
        "user": {"name": user, "roles": list(roles)},
        "action": action,
        "resource": dict(resource or {}),
    }
    if purpose is not None:
        document["purpose"] = purpose
    return document


def explain(
    engine: PolicyEngine,
    action: str,
    role: str,
    resource: Mapping[str, Any] | str | None = None,
    *,
    user: str = "policy-check",
    purpose: str | None = None,
) -> Decision:
    """The decision the policy would give ``user`` acting as ``role``, with its reasons.

    ``resource`` is the resource's attributes, as a mapping or as JSON text (what the CLI's
    ``--resource`` holds). Nothing is audited or changed: this only asks the engine.
    """
    if isinstance(resource, str):
        try:
            resource = json.loads(resource or "{}")
        except ValueError as exc:
            raise InvalidInput(f"--resource is not valid JSON: {exc}") from None
    if resource is not None and not isinstance(resource, Mapping):
        raise InvalidInput("--resource must be a JSON object")
    return engine.decide(build_input(user=user, roles=[role], action=action,
                                     resource=resource, purpose=purpose))
