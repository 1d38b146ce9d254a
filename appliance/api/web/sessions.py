"""Console sessions: a random id in a cookie, the user and a CSRF token on the server.

The cookie never carries the API token: sign-in exchanges the token for a session id (256 random
bits), and the server keeps the mapping in memory, keyed by the id's SHA-256 so the store holds no
usable cookie values. The cookie is HttpOnly (no script reads it), Secure (browsers treat loopback
as secure, so this also works on ``http://127.0.0.1``) and SameSite=Strict (no cross-site request
carries it). Every form carries the session's CSRF token as well, checked on each POST.

A session ends on sign-out, after ``idle`` seconds without a request, ``absolute`` seconds after
sign-in, or when the server restarts. Signing in replaces the pre-sign-in session with a new id
(no session fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "appliance_session"


@dataclass
class Session:
    csrf: str
    started: float
    seen: float
    user: str | None = None
    role: str | None = None
    flash: list[str] = field(default_factory=list)


class SessionStore:
    """In-memory sessions for one process; thread-safe."""

    def __init__(self, *, idle: float = 1800, absolute: float = 8 * 3600,
                 clock: Callable[[], float] = time.monotonic, max_sessions: int = 10_000) -> None:
        self.idle = idle
        self.absolute = absolute
        self._clock = clock
        self._max = max_sessions
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str | None = None, role: str | None = None) -> tuple[str, Session]:
        """A new session; returns the cookie value (shown to the browser only) and the session."""
        sid = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(csrf=secrets.token_urlsafe(32), started=now, seen=now, user=user,
                          role=role)
        with self._lock:
            if len(self._sessions) >= self._max:
                self._expire(now)
            if len(self._sessions) >= self._max:  # still full: drop the stalest
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].seen)]
            self._sessions[_key(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 128:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(_key(sid))
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[_key(sid)]
                return None
            session.seen = now
            return session

    def drop(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(_key(sid), None)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle or now - session.started > self.absolute

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def check_csrf(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf, str(submitted))


def _key(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()
