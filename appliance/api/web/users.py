"""Console pages for administrators: users and their tokens, base models, master keys."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import identity
from appliance.api.deps import ContextDep
from appliance.api.web.console import ConsoleDep, FormDep, redirect, render
from appliance.context import Context
from appliance.errors import InvalidInput
from appliance.gate import authorize
from appliance.training.registry import list_base_models

router = APIRouter(include_in_schema=False)


@router.get("/users")
def list_users(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Users, their roles and token expiry; never their tokens."""
    authorize(ctx, console.principal, "user.manage", {"type": "user", "id": "*"},
              "administration", {"operation": "list"})
    return render(request, "users.html", console, users=identity.list_users(ctx),
                  roles=identity.ROLES, title="Users")


@router.post("/users")
def add_user(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep) -> Response:
    """Create a user; its token is shown on the next page, once."""
    name, role = str(form.get("name", "")).strip(), str(form.get("role", ""))
    ttl = str(form.get("ttl_days", "")).strip()
    if ttl and not ttl.isdigit():
        raise InvalidInput("token lifetime must be a whole number of days")
    user, token = identity.add_user(ctx, name, role, actor=console.principal,
                                    ttl_days=int(ttl) if ttl else None)
    return render(request, "token.html", console, subject=user, token=token, title="New token")


@router.post("/users/{name}/token")
def rotate_token(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep,
                 name: str) -> Response:
    """Issue a new token; the old one stops working."""
    token = identity.rotate_token(ctx, name, actor=console.principal)
    return render(request, "token.html", console, subject=identity.get_user(ctx, name),
                  token=token, title="New token")


@router.post("/users/{name}/revoke")
def revoke_user(ctx: ContextDep, console: ConsoleDep, form: FormDep, name: str) -> Response:
    """Revoke a user's token (and so end their console sessions)."""
    user = identity.revoke_user(ctx, name, actor=console.principal)
    return redirect("/users", console, f"Revoked {user.name}.")


@router.get("/base-models")
def show_base_models(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Registered base models: name, location, content hash, registration time."""
    authorize(ctx, console.principal, "model.base.register", {"type": "base_model", "id": "*"},
              "administration", {"operation": "list"})
    return render(request, "base_models.html", console, bases=list_base_models(ctx),
                  title="Base models")


@router.get("/keys")
def show_keys(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Master-key versions and when each was created; never any key material."""
    authorize(ctx, console.principal, "keys.rotate", {"type": "keys", "id": "master"},
              "administration", {"operation": "list"})
    return render(request, "keys.html", console, keys=describe_keys(ctx),
                  source=ctx.settings.key_source, title="Keys")


def describe_keys(ctx: Context) -> list[dict[str, Any]]:
    """Version, current or not, and creation time (the key file's, where the source has files:
    a rotation creates the next version, so the newest one's time is the last rotation)."""
    current = ctx.keyring.current_version
    out = []
    for version in sorted(ctx.keyring.versions(), reverse=True):
        created = None
        path = getattr(ctx.keyring.source, "path", None)
        if callable(path):
            try:
                created = datetime.fromtimestamp(Path(path(version)).stat().st_mtime, UTC)
            except OSError:
                created = None
        out.append({"version": version, "current": version == current,
                    "created": created.strftime("%Y-%m-%d %H:%M UTC") if created else None})
    return out
