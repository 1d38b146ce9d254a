"""Limits on failed authentication, per presented token and per client (in memory, per process).

Two moving windows (the ``limits`` library, in-memory storage) count *failed* attempts:

- per token: a token that failed ``per_token`` times is refused unchecked, from any address, until
  its window passes. Tokens never become valid later (revoked and expired stay so), so this only
  spares the database and the audit log a client replaying a stale token.
- per client address: once a client failed ``per_client`` times, the tokens it presents that are
  not *known* are refused unchecked. Known tokens are those that authenticated in the last
  ``known_for_s`` seconds, from anywhere; they are still checked, and a good one gets in.

Why both: every check of a token is a guess, so a limited client cannot have its unknown tokens
checked without handing a brute-forcer unlimited guesses; and it cannot be refused outright
without locking out every user behind the same address (all local processes are 127.0.0.1). The
known-token list is the "device cookie" of OWASP's guidance, with the token itself as the
cookie. What remains: a token never used since the service started, presented from an address
that is limited right now, waits until the address's window passes (``Retry-After``).

Tokens are held only as an HMAC under a key drawn when the process starts: never the token, and
not the SHA-256 stored in the users table, so this memory cannot be matched against a leaked
database. Successful attempts count nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cachetools import TTLCache
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused unchecked: ``limited`` is "client" or "token"; ``key`` is the
    address or the token's HMAC; ``wait`` is seconds until the window lets it be checked."""

    limited: str
    key: str
    wait: int


class FailureLimiter:
    """Moving windows of failed attempts per token and per client; thread-safe."""

    def __init__(self, per_client: str = "10/minute", per_token: str = "5/hour", *,  # noqa: S107 (a limit)
                 known_for_s: float = 86_400, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_client: RateLimitItem = parse(per_client)
        self.per_token: RateLimitItem = parse(per_token)
        self._windows = MovingWindowRateLimiter(MemoryStorage())
        self._key = secrets.token_bytes(32)
        self._clock = clock
        self._lock = threading.Lock()
        self._known: TTLCache[str, bool] = TTLCache(max_entries, known_for_s)
        # What is being refused now, and until when: only the first refusal is audited.
        longest = max(self.per_client.get_expiry(), self.per_token.get_expiry())
        self._throttled: TTLCache[tuple[str, str], float] = TTLCache(max_entries, longest)

    def refusal(self, client: str, token: str | None) -> Refusal | None:
        """None when the attempt may be checked; else why it is refused unchecked."""
        credential = self._credential(token)
        if credential and not self._windows.test(self.per_token, "token", credential):
            return Refusal("token", credential, self._wait(self.per_token, "token", credential))
        with self._lock:
            if credential and credential in self._known:
                return None
        if not self._windows.test(self.per_client, "client", client):
            return Refusal("client", client, self._wait(self.per_client, "client", client))
        return None

    def record_failure(self, client: str, token: str | None) -> None:
        self._windows.hit(self.per_client, "client", client)
        credential = self._credential(token)
        if credential:
            self._windows.hit(self.per_token, "token", credential)

    def record_success(self, token: str) -> None:
        credential = self._credential(token)
        with self._lock:
            self._known[credential] = True

    def start_throttling(self, refusal: Refusal) -> bool:
        """True for the first refusal of this client or token since its last refusal ended."""
        now = self._clock()
        key = (refusal.limited, refusal.key)
        with self._lock:
            until = self._throttled.get(key)
            self._throttled[key] = now + refusal.wait
        return until is None or until <= now

    def _credential(self, token: str | None) -> str:
        """The token's HMAC under this process's key; "" for no token (counted per client)."""
        if not token:
            return ""
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def _wait(self, item: RateLimitItem, *identifiers: str) -> int:
        reset = self._windows.get_window_stats(item, *identifiers).reset_time
        return max(1, math.ceil(reset - self._clock()))


def client_address(peer: str | None, forwarded: Sequence[str], trusted: Sequence[str]) -> str:
    """The client: the peer, or, when the peer is a trusted proxy, what the proxy says.

    In ``X-Forwarded-For: client, proxy1, proxy2`` each proxy appends the address it saw, so only
    the right-hand end is written by proxies we trust. Walk from the right past trusted proxies;
    the first other address is the client (``forwarded``: the header's values, in order, as
    several proxies may each add a line of their own). Anything further left was sent by the
    client and may be forged, so it is never used. From a peer that is not a trusted proxy the
    header is ignored.
    """
    if peer is None:
        return "unknown"
    networks = _networks(tuple(trusted))
    if not networks or not _is_in(peer, networks):
        return peer
    hops = [h.strip() for h in ",".join(forwarded).split(",")]
    client = peer
    for hop in reversed([h for h in hops if h]):
        if not _is_address(hop):
            break  # a malformed hop: stop at the last address a trusted proxy vouched for
        client = hop
        if not _is_in(hop, networks):
            break
    return client


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_in(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)
