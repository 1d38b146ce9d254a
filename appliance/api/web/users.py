"""Console pages for administrators: users and their tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import identity
from appliance.api.deps import ContextDep
from appliance.api.web.console import ConsoleDep, FormDep, redirect, render
from appliance.errors import InvalidInput
from appliance.gate import authorize

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
