"""The decision contract every policy engine honours (docs/internals.md, policy section).

A policy answers one question per request with one document, ``{"allow": bool, "reasons":
[str]}``. Whatever an engine gets back is checked here before anyone acts on it: a document of
the wrong shape, a duplicated key, a non-boolean ``allow`` all become a deny, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: Every fail-closed reason starts with this, so callers and auditors can tell an engine failure
#: from a policy rule.
ENGINE_ERROR = "policy engine error: "

#: Longest engine error detail kept in a reason: rego-cpp errors can be whole syntax trees.
_MAX_DETAIL = 300


@dataclass(frozen=True)
class Decision:
    """One policy decision: whether the action is allowed, why, and under which policy."""

    allow: bool
    reasons: list[str] = field(default_factory=list)
    policy_hash: str = ""

    @classmethod
    def engine_error(cls, detail: str, policy_hash: str) -> Decision:
        """A deny that says the engine, not a rule, failed (fail closed)."""
        return cls(allow=False, reasons=[ENGINE_ERROR + _shorten(detail)], policy_hash=policy_hash)

    @property
    def is_engine_error(self) -> bool:
        """True for a deny made because the engine failed, not by a rule of the policy."""
        return not self.allow and len(self.reasons) == 1 and self.reasons[0].startswith(
            ENGINE_ERROR)

    def as_dict(self) -> dict[str, Any]:
        return {"allow": self.allow, "reasons": list(self.reasons), "policy_hash": self.policy_hash}


@runtime_checkable
class PolicyEngine(Protocol):
    """What the gate and the CLI need from a policy engine."""

    @property
    def policy_hash(self) -> str:
        """SHA-256 over the loaded policy files and data (``sha256:<hex>``)."""
        ...

    def decide(self, policy_input: Mapping[str, Any], /) -> Decision:
        """Decide one request; never raises: any failure is a deny naming the failure."""
        ...


def decision_from_document(document: object, policy_hash: str) -> Decision:
    """Check a decision document's shape; anything unexpected is a fail-closed deny."""
    if not isinstance(document, dict):
        return Decision.engine_error(
            f"the decision is {type(document).__name__}, not an object", policy_hash)
    allow = document.get("allow")
    reasons = document.get("reasons")
    # `type(...) is bool`: 1, "true" and other truthy values must not allow anything.
    if type(allow) is not bool:
        return Decision.engine_error("the decision has no boolean 'allow'", policy_hash)
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        return Decision.engine_error("the decision's 'reasons' is not a list of strings",
                                     policy_hash)
    if not allow and not reasons:
        reasons = ["default_deny: the policy denied without giving a reason"]
    return Decision(allow=allow, reasons=list(reasons), policy_hash=policy_hash)


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses duplicate keys and NaN/Infinity.

    A duplicated ``"allow"`` would otherwise let the last one win, so a string that managed to
    break out of its quotes in an engine's output could not flip a decision.
    """
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def canonical_input_text(policy_input: Mapping[str, Any]) -> str:
    """The input as JSON text with sorted keys; raises ValueError if it is not a JSON object.

    ``json.loads`` of the text is exactly the document an OPA server would receive over HTTP:
    tuples become lists, and sets, bytes, NaN or objects that are not JSON are refused. NUL
    characters are refused too: rego-cpp reads strings as C strings and would cut them at the
    first NUL, making two different names look equal. Equal inputs give equal texts, which is
    what the decision cache is keyed by.
    """
    if not isinstance(policy_input, dict):
        raise ValueError("the input is not a JSON object")
    try:
        text = json.dumps(policy_input, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the input is not a JSON document: {exc}") from None
    if "\\u0000" in text:
        raise ValueError("the input contains a NUL character")
    return text


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _shorten(detail: str) -> str:
    text = " ".join(detail.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
