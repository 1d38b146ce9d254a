"""What every policy engine shares: the policy it was built from, input checks, the cache.

An engine subclasses :class:`EngineBase` and implements ``_decide_document``, which gets the
input as plain JSON types (exactly what an OPA server would receive over HTTP) and must never
raise. ``decide`` does the rest: refuses input that is not a JSON object, answers repeated
requests from the decision cache (appliance/policy/cache.py), and keeps only decisions that
came from the policy, never engine failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from appliance.policy.bundle import PolicyBundle
from appliance.policy.cache import DEFAULT_CACHE_SIZE, DecisionCache, uncacheable_reason
from appliance.policy.decision import Decision, canonical_input_text


class EngineBase:
    """A policy engine: ``decide(input) -> Decision``, never raising, for one loaded policy."""

    def __init__(self, policy: PolicyBundle, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._policy = policy
        self._cache: DecisionCache | None = None
        #: Why decisions are not cached, when they are not (a setting, or the policy itself).
        self.cache_disabled_reason: str | None = "cache_size is 0" if cache_size < 1 else None
        if cache_size >= 1:
            self.cache_disabled_reason = uncacheable_reason(policy)
            if self.cache_disabled_reason is None:
                self._cache = DecisionCache(cache_size)

    @property
    def policy_hash(self) -> str:
        return self._policy.policy_hash

    @property
    def policy(self) -> PolicyBundle:
        """The policy files and data this engine was built from."""
        return self._policy

    @property
    def cache(self) -> DecisionCache | None:
        """The decision cache, or None when decisions are not cached."""
        return self._cache

    def decide(self, policy_input: Mapping[str, Any], /) -> Decision:
        try:
            key = canonical_input_text(policy_input)
        except ValueError as exc:
            return Decision.engine_error(str(exc), self.policy_hash)
        cache = self._cache
        if cache is not None:
            cached = cache.get(key)
            if cached is not None:
                return cached
        decision = self._decide_document(json.loads(key))
        if cache is not None and not decision.is_engine_error:
            cache.put(key, decision)
        return decision

    def _decide_document(self, document: dict[str, Any]) -> Decision:
        raise NotImplementedError
