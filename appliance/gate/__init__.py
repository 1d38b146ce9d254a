"""The single data-access gate (DESIGN.md, "How data flows").

Every read of stored contents, by anyone, for any purpose, goes through :func:`open_object`:
build the policy input, ask the policy, append the audit event (allowed or denied, with the
reasons, the purpose and the policy hash), and only then decrypt. The order matters and is the
point of this module:

1. A denial is audited before it is raised, so refused attempts are visible to auditors.
2. The audit append happens before any byte is decrypted; if it fails the caller gets
   :class:`AuditUnavailable` and no data (invariant 5: no audit, no data).
3. Only this module mints :class:`AccessGrant` objects, and the vault decrypts nothing without
   one, so there is no second path to plaintext.

An allowed action whose work can still fail after its decision is begun with
:func:`begin_action` instead (``outcomes.py``): its failure, or its process's death, gets an
outcome event that names the allow event, so every allow in the log can be reconciled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.crypto.vault import _GATE_SEAL, AccessGrant
from appliance.errors import AccessDenied, ApplianceError, AuditUnavailable
from appliance.policy import Decision

if TYPE_CHECKING:
    from appliance.audit import AuditEvent
    from appliance.context import Context

#: Resource attributes the policy sees; anything else in a resource dict is not sent.
RESOURCE_FIELDS = (
    "type", "id", "state", "classification", "uploaded_by", "requested_by", "approvals",
    "owner", "created_by",
)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user name and its one role (DESIGN.md's role table)."""

    name: str
    role: str


def build_input(
    principal: Principal, action: str, resource: dict[str, Any], purpose: str
) -> dict[str, Any]:
    """The policy input document (docs/internals.md, policy section)."""
    return {
        "user": {"name": principal.name, "roles": [principal.role]},
        "action": action,
        "resource": {k: resource[k] for k in RESOURCE_FIELDS if k in resource},
        "purpose": purpose,
    }


def authorize(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    purpose: str,
    details: dict[str, Any] | None = None,
) -> Decision:
    """Decide and audit one action; raise :class:`AccessDenied` (after auditing) on a deny."""
    decision, _ = _decide(ctx, principal, action, resource, purpose, details)
    return decision


def resource_name(resource: dict[str, Any]) -> str:
    """``type:id``, as audit events name a resource."""
    return f"{resource.get('type', '')}:{resource.get('id', '')}"


def _decide(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    purpose: str,
    details: dict[str, Any] | None,
) -> tuple[Decision, AuditEvent]:
    decision = ctx.policy.decide(build_input(principal, action, resource, purpose))
    event = _append(ctx, principal, action, resource, purpose, decision, details)
    if not decision.allow:
        raise AccessDenied(
            f"{principal.name} ({principal.role}) may not {action} "
            f"{resource.get('type', 'resource')} {resource.get('id', '')}".rstrip(),
            reasons=decision.reasons,
        )
    return decision, event


def open_object(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    object_id: str,
    purpose: str,
    details: dict[str, Any] | None = None,
) -> Iterator[bytes]:
    """Authorize and audit, then stream the decrypted object. The only path to plaintext."""
    audit_details = {**(details or {}), "object_id": object_id}
    _, event = _decide(ctx, principal, action, resource, purpose, audit_details)
    grant = AccessGrant(object_id, str(event.hash), _seal=_GATE_SEAL)
    return ctx.vault.open(object_id, grant)


def read_object(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    object_id: str,
    purpose: str,
    details: dict[str, Any] | None = None,
) -> bytes:
    """:func:`open_object`, joined; for small objects (reports, model weights)."""
    return b"".join(open_object(ctx, principal, action, resource, object_id, purpose, details))


def _append(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    purpose: str,
    decision: Decision,
    details: dict[str, Any] | None,
) -> AuditEvent:
    try:
        event: AuditEvent = ctx.audit.append(
            actor=principal.name,
            role=principal.role,
            action=action,
            resource=resource_name(resource),
            purpose=purpose,
            decision="allow" if decision.allow else "deny",
            reasons=list(decision.reasons),
            policy_hash=decision.policy_hash,
            details=dict(details or {}),
        )
    except ApplianceError:
        raise
    except Exception as exc:  # fail closed: any audit failure refuses the access
        raise AuditUnavailable(f"audit event could not be written: {exc}") from exc
    return event


# After the names it imports from this module; offered here so callers import from the gate.
from appliance.gate.outcomes import (  # noqa: E402
    Action,
    begin_action,
    reconcile_actions,
    tracks_outcome,
)

__all__ = [
    "RESOURCE_FIELDS", "Action", "Principal", "authorize", "begin_action", "build_input",
    "open_object", "read_object", "reconcile_actions", "resource_name", "tracks_outcome",
]
