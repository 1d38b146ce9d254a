"""Choosing and loading the policy engine from the settings."""

from __future__ import annotations

import threading
from pathlib import Path

from appliance.config import Settings
from appliance.errors import ConfigurationError, PolicyUnavailable
from appliance.policy.bundle import default_policy_dir, read_policy_dir
from appliance.policy.decision import PolicyEngine
from appliance.policy.embedded import EmbeddedEngine
from appliance.policy.opa_server import OpaServerEngine

# The compiled embedded engine for each policy directory: every context a process opens reuses
# it until a policy file changes.
_embedded: dict[tuple[Path, int], EmbeddedEngine] = {}
_embedded_lock = threading.Lock()


def resolve_policy_dir(settings: Settings) -> Path:
    """``settings.policy_dir`` if set, else the policies shipped with the appliance."""
    if settings.policy_dir is not None:
        return Path(settings.policy_dir).expanduser().resolve()
    found = default_policy_dir()
    if found is None:
        raise PolicyUnavailable("no policy directory found: set APPLIANCE_POLICY_DIR (or "
                                "policy_dir in config.json) to the directory holding appliance/")
    return found


def load_engine(settings: Settings) -> PolicyEngine:
    """The engine ``settings.policy_backend`` names, loaded from the policy directory.

    Raises :class:`PolicyUnavailable` if the policy cannot be loaded; after that, the engine
    never raises: every failure is a deny.
    """
    policy_dir = resolve_policy_dir(settings)
    if settings.policy_backend == "embedded":
        return _embedded_engine(policy_dir, settings.policy_cache_size)
    if settings.policy_backend == "opa":
        return OpaServerEngine(settings.opa_url, policy_dir)  # the server decides, every time
    raise ConfigurationError(f"unknown policy_backend {settings.policy_backend!r}")


def _embedded_engine(policy_dir: Path, cache_size: int) -> EmbeddedEngine:
    # Hashing the files again on each call is what makes the reuse safe: an edited policy gets
    # a new hash, so a new engine (and a new, empty decision cache).
    current = read_policy_dir(policy_dir).policy_hash
    with _embedded_lock:
        engine = _embedded.get((policy_dir, cache_size))
        if engine is None or engine.policy_hash != current:
            engine = EmbeddedEngine(policy_dir, cache_size=cache_size)
            _embedded[(policy_dir, cache_size)] = engine
        return engine
