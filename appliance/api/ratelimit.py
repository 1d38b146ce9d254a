"""Per-client token buckets for failed authentication attempts (in memory, per process).

Each client address has a bucket of ``capacity`` tokens refilled at ``rate`` per second. A failed
attempt takes a token; while the bucket is empty every attempt from that address, good token or
bad, is refused with 429 before any token is checked, so guessing costs the attacker time rather
than costing us audit-log space. Successful attempts take nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    throttled: bool = False


class FailureLimiter:
    """Token bucket per client address; thread-safe."""

    def __init__(self, capacity: int = 10, rate: float = 0.2, *,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 10_000) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 when the client may try; otherwise seconds until it may try again."""
        with self._lock:
            bucket = self._refill(client)
            if bucket.tokens >= 1:
                bucket.throttled = False
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def record_failure(self, client: str) -> None:
        with self._lock:
            bucket = self._refill(client)
            bucket.tokens = max(0.0, bucket.tokens - 1)

    def start_throttling(self, client: str) -> bool:
        """True the first time a client is refused since its bucket last had tokens."""
        with self._lock:
            bucket = self._refill(client)
            first = not bucket.throttled
            bucket.throttled = True
            return first

    def _refill(self, client: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self._max_clients:
                self._evict_full(now)
            bucket = self._buckets[client] = _Bucket(float(self.capacity), now)
            return bucket
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        return bucket

    def _evict_full(self, now: float) -> None:
        """Forget clients whose buckets have refilled: they carry no state worth keeping."""
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * self.rate >= self.capacity:
                del self._buckets[client]
        if len(self._buckets) >= self._max_clients:  # all throttled: drop the oldest
            oldest = min(self._buckets, key=lambda c: self._buckets[c].stamp)
            del self._buckets[oldest]
