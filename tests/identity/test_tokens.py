"""Users and tokens: shown once, stored hashed, refused when unknown, revoked or expired."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from appliance.errors import AccessDenied, AuthenticationFailed, Conflict, InvalidInput
from appliance.identity import add_user, authenticate, hash_token, revoke_user, rotate_token


def test_token_is_stored_only_as_hash(ctx: Any, home: Any) -> None:
    _, token = add_user(ctx, "olivia", "operator")
    row = ctx.conn.execute("SELECT token_hash FROM users").fetchone()
    assert row["token_hash"] == hash_token(token) != token
    for path in home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_authenticate_maps_token_to_principal(ctx: Any) -> None:
    _, token = add_user(ctx, "carol", "compliance")
    principal = authenticate(ctx, token)
    assert (principal.name, principal.role) == ("carol", "compliance")


@pytest.mark.parametrize("token", [None, "", "garbage", "apl_" + "x" * 43, "apl_" + "y" * 500])
def test_bad_tokens_are_refused_and_audited_without_the_token(ctx: Any, token: str | None) -> None:
    with pytest.raises(AuthenticationFailed) as err:
        authenticate(ctx, token)
    assert err.value.exit_code == 3
    event = ctx.audit.query(limit=None)[-1]
    assert (event.action, event.decision) == ("auth.login", "deny")
    if token:
        assert token not in str(event.as_dict())


def test_revoked_and_expired_tokens(ctx: Any) -> None:
    _, token = add_user(ctx, "olivia", "operator")
    revoke_user(ctx, "olivia")
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate(ctx, token)
    _, short = add_user(ctx, "oscar", "operator", ttl_days=1)
    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(days=2)
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticate(ctx, short)


def test_rotate_invalidates_old_token(ctx: Any) -> None:
    _, old = add_user(ctx, "olivia", "operator")
    new = rotate_token(ctx, "olivia")
    assert authenticate(ctx, new).name == "olivia"
    with pytest.raises(AuthenticationFailed):
        authenticate(ctx, old)


def test_user_validation(ctx: Any) -> None:
    add_user(ctx, "olivia", "operator")
    with pytest.raises(Conflict):
        add_user(ctx, "olivia", "operator")
    with pytest.raises(InvalidInput):
        add_user(ctx, "Bad Name", "operator")
    with pytest.raises(InvalidInput):
        add_user(ctx, "eve", "root")


def test_non_admin_cannot_manage_users(ctx: Any, people: dict) -> None:
    with pytest.raises(AccessDenied):
        add_user(ctx, "mallory", "admin", actor=people["olivia"])
