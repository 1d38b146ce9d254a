"""The policy decision point: Rego policies in ``policies/``, evaluated by an engine.

``load_engine(settings)`` gives the engine the settings name (embedded regopy by default, or an
OPA server); ``engine.decide(input)`` returns a :class:`Decision`. Engines fail closed: after
loading, they never raise, and any failure is a deny whose reason starts with
"policy engine error:". See docs/security-policy.md.
"""

from appliance.policy.bundle import PolicyBundle, default_policy_dir, read_policy_dir
from appliance.policy.decision import ENGINE_ERROR, Decision, PolicyEngine
from appliance.policy.embedded import EmbeddedEngine
from appliance.policy.engines import load_engine, resolve_policy_dir
from appliance.policy.explain import build_input, explain
from appliance.policy.opa_server import OpaServerEngine

__all__ = [
    "ENGINE_ERROR",
    "Decision",
    "EmbeddedEngine",
    "OpaServerEngine",
    "PolicyBundle",
    "PolicyEngine",
    "build_input",
    "default_policy_dir",
    "explain",
    "load_engine",
    "read_policy_dir",
    "resolve_policy_dir",
]
