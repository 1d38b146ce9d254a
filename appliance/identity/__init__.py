"""Users and API tokens.

A token is 256 random bits, shown once at creation and stored only as its SHA-256 (invariant 7).
Authentication looks the hash up in the database; because the lookup key is the digest of a
high-entropy secret, equality on the digest leaks nothing useful, and the final comparison is
still done with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from appliance.gate import Principal, authorize

ROLES = ("operator", "compliance", "auditor", "admin", "annotator")
TOKEN_PREFIX = "apl_"  # noqa: S105  (a prefix, not a secret)
NO_TOKEN = "no token given"  # noqa: S105  (a reason, not a secret)
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")

#: Local administration (``appliance user add`` on the appliance's own shell) acts as this.
LOCAL_ADMIN = Principal("local-admin", "admin")

if TYPE_CHECKING:
    from appliance.context import Context


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: str
    expires_at: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_user(
    ctx: Context, name: str, role: str, *, actor: Principal = LOCAL_ADMIN,
    ttl_days: int | None = None,
) -> tuple[User, str]:
    """Create a user; returns the user and its token, which is never shown again."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"user name {name!r} must be 2-64 of a-z 0-9 _ . - starting with a letter")
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not one of {', '.join(ROLES)}")
    authorize(ctx, actor, "user.manage", {"type": "user", "id": name}, "administration",
              {"operation": "add", "role": role})
    token = new_token()
    now = ctx.clock()
    expires = now + timedelta(days=ttl_days or ctx.settings.token_ttl_days)
    with transaction(ctx.conn):
        if ctx.conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
            raise Conflict(f"user {name} already exists")
        ctx.conn.execute(
            "INSERT INTO users(name, role, token_hash, created_at, expires_at) VALUES (?,?,?,?,?)",
            (name, role, hash_token(token), _iso(now), _iso(expires)),
        )
    return get_user(ctx, name), token


def rotate_token(ctx: Context, name: str, *, actor: Principal = LOCAL_ADMIN) -> str:
    """Issue a new token for a user, invalidating the old one."""
    get_user(ctx, name)
    authorize(ctx, actor, "user.manage", {"type": "user", "id": name}, "administration",
              {"operation": "rotate_token"})
    token = new_token()
    expires = ctx.clock() + timedelta(days=ctx.settings.token_ttl_days)
    with transaction(ctx.conn):
        ctx.conn.execute(
            "UPDATE users SET token_hash=?, expires_at=?, revoked_at=NULL WHERE name=?",
            (hash_token(token), _iso(expires), name),
        )
    return token


def revoke_user(ctx: Context, name: str, *, actor: Principal = LOCAL_ADMIN) -> User:
    user = get_user(ctx, name)
    authorize(ctx, actor, "user.manage", {"type": "user", "id": name}, "administration",
              {"operation": "revoke"})
    if user.revoked_at is None:
        with transaction(ctx.conn):
            ctx.conn.execute("UPDATE users SET revoked_at=? WHERE name=?", (ctx.now(), name))
    return get_user(ctx, name)


def get_user(ctx: Context, name: str) -> User:
    row = ctx.conn.execute(
        "SELECT name, role, created_at, expires_at, revoked_at FROM users WHERE name=?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no user named {name}")
    return User(**dict(row))


def list_users(ctx: Context) -> list[User]:
    rows = ctx.conn.execute(
        "SELECT name, role, created_at, expires_at, revoked_at FROM users ORDER BY name"
    ).fetchall()
    return [User(**dict(r)) for r in rows]


def authenticate(ctx: Context, token: str | None, *, channel: str = "cli",
                 missing: str = NO_TOKEN, advice: str = "") -> Principal:
    """Map a token to its user, or audit the failure and raise (exit code 3, HTTP 401).

    When no token came, ``missing`` is the reason (the channel knows why: no header, another
    scheme) and ``advice`` tells the caller how to send one, in the channel's own terms (an
    environment variable for the CLI, a header for HTTP); the advice goes into the error only,
    not the audit event. The audit event never carries the token, only the reason it was refused.
    """
    reason = _check_token(ctx, token, missing)
    if isinstance(reason, Principal):
        return reason
    ctx.audit.append(
        actor="anonymous", role="none", action="auth.login", resource=f"channel:{channel}",
        purpose="authentication", decision="deny", reasons=[reason],
        policy_hash=ctx.policy.policy_hash, details={"channel": channel},
    )
    hint = f"; {advice}" if advice and not token else ""
    raise AuthenticationFailed(f"authentication failed: {reason}{hint}")


def _check_token(ctx: Context, token: str | None, missing: str) -> Principal | str:
    if not token:
        return missing
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return "malformed token"
    digest = hash_token(token)
    row = ctx.conn.execute(
        "SELECT name, role, token_hash, expires_at, revoked_at FROM users WHERE token_hash=?",
        (digest,),
    ).fetchone()
    if row is None or not hmac.compare_digest(row["token_hash"], digest):
        return "unknown token"
    if row["revoked_at"]:
        return f"token of user {row['name']} was revoked"
    if datetime.fromisoformat(row["expires_at"]) <= ctx.clock():
        return f"token of user {row['name']} expired at {row['expires_at']}"
    return Principal(row["name"], row["role"])


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
