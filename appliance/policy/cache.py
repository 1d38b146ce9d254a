"""The decision cache: one policy, one input, one answer, so the answer can be kept.

A Rego decision is a function of the policy (modules and data, named by the policy hash) and the
input document, unless the policy calls a builtin whose answer changes between calls (the clock,
random numbers, the network). Such a policy is never cached. Otherwise each engine keeps the
decisions of the inputs it saw last, keyed by the input's canonical JSON text (keys sorted):
any change to the request, a dataset's state or approvals included, is another key, and a new
policy is another engine with an empty cache. Engine failures are never kept, so a server that
comes back is asked again.

The gate asks the same questions over and over (the console polling a list, a reviewer paging
through samples, a worker re-reading its dataset on resume), and rego-cpp spends most of a
millisecond on each answer; a hit costs a few microseconds. The cache is bounded (least
recently used entries go first) and holds what the inputs hold: names, ids, states, never
contents or secrets.
"""

from __future__ import annotations

import re
import threading

from cachetools import LRUCache

from appliance.policy.bundle import PolicyBundle
from appliance.policy.decision import Decision

#: Decisions kept per engine unless the settings say otherwise.
DEFAULT_CACHE_SIZE = 4096

# Rego builtins whose result is not a function of their arguments (OPA's list of
# non-deterministic builtins, plus the clock): a policy calling one is never cached.
_NON_DETERMINISTIC = re.compile(
    r"\b(time\.now_ns|rand\.intn|uuid\.rfc4122|uuid\.parse|http\.send|net\.lookup_ip_addr"
    r"|opa\.runtime|io\.jwt\.decode_verify|crypto\.x509\.parse_and_verify_certificates)\b"
)


def uncacheable_reason(policy: PolicyBundle) -> str | None:
    """Why decisions of this policy cannot be cached (a builtin it calls), or None."""
    for module in policy.modules:
        found = _NON_DETERMINISTIC.search(module.source)
        if found:
            return f"{module.path} calls {found.group(1)}, whose result changes between calls"
    return None


class DecisionCache:
    """A bounded, thread-safe LRU map from canonical input text to a decision (cachetools'
    ``LRUCache``, which is not thread-safe itself: every access holds the lock)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a decision cache holds at least one decision")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: LRUCache[str, Decision] = LRUCache(size)
        self._lock = threading.Lock()

    def get(self, key: str) -> Decision | None:
        with self._lock:
            decision = self._entries.get(key)  # a hit becomes the most recently used
            if decision is None:
                self.misses += 1
                return None
            self.hits += 1
        # A fresh copy: a caller that edits its reasons list edits nobody else's.
        return Decision(decision.allow, list(decision.reasons), decision.policy_hash)

    def put(self, key: str, decision: Decision) -> None:
        kept = Decision(decision.allow, list(decision.reasons), decision.policy_hash)
        with self._lock:
            self._entries[key] = kept  # evicts the least recently used beyond the size

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
