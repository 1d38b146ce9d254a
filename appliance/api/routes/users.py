"""``/v1/users``: accounts and tokens (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status

from appliance import identity
from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import BAD_INPUT, CONFLICT, NOT_FOUND, responses
from appliance.api.schemas import IssuedToken, NewUser, User
from appliance.gate import authorize

router = APIRouter(prefix="/v1/users", tags=["users"],
                   dependencies=[Depends(reject_unknown_query)])


@router.get("", response_model=list[User], responses=responses())
def list_users(ctx: ContextDep, user: CurrentUser) -> list[Any]:
    """List users (never their tokens)."""
    authorize(ctx, user, "user.manage", {"type": "user", "id": "*"}, "administration",
              {"operation": "list"})
    return [u.as_dict() for u in identity.list_users(ctx)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=IssuedToken,
             responses=responses(BAD_INPUT, CONFLICT))
def add_user(ctx: ContextDep, user: CurrentUser, new: NewUser) -> Any:
    """Create a user and its token; the token is in this response only."""
    created, token = identity.add_user(ctx, new.name, new.role, actor=user, ttl_days=new.ttl_days)
    return {"user": created.as_dict(), "token": token}


@router.post("/{name}/token", response_model=IssuedToken, responses=responses(NOT_FOUND))
def rotate_token(ctx: ContextDep, user: CurrentUser, name: str) -> Any:
    """Issue a new token for a user; the old one stops working."""
    token = identity.rotate_token(ctx, name, actor=user)
    return {"user": identity.get_user(ctx, name).as_dict(), "token": token}


@router.post("/{name}/revoke", response_model=User, responses=responses(NOT_FOUND))
def revoke_user(ctx: ContextDep, user: CurrentUser, name: str) -> Any:
    """Revoke a user's token."""
    return identity.revoke_user(ctx, name, actor=user).as_dict()
