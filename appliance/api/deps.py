"""What routes declare: the request's Context and the authenticated caller.

Routes take ``ctx: ContextDep`` and ``user: CurrentUser`` and call the service layer with them;
the service functions ask the policy engine (through the gate) and write the audit event, so no
route checks a role or an owner by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from appliance.api.problem import RateLimited
from appliance.api.ratelimit import FailureLimiter
from appliance.api.runtime import ContextPool
from appliance.context import Context
from appliance.errors import AuthenticationFailed
from appliance.gate import Principal
from appliance.identity import authenticate

bearer = HTTPBearer(auto_error=False, description="A token from `appliance user add`.")


def get_pool(request: Request) -> ContextPool:
    pool: ContextPool = request.app.state.pool
    return pool


def get_context(request: Request) -> Iterator[Context]:
    """A Context with a connection of its own for this request (see api/runtime.py)."""
    with get_pool(request).lease() as ctx:
        yield ctx


ContextDep = Annotated[Context, Depends(get_context)]


def client_address(request: Request) -> str:
    """The peer address. Forwarded headers are not trusted: the service is its own edge."""
    return request.client.host if request.client else "unknown"


def authenticate_request(
    request: Request, ctx: Context, token: str | None, *, channel: str
) -> Principal:
    """Authenticate a token, rate-limiting failures per client address.

    ``authenticate`` audits each failure. While a client is throttled its attempts are refused
    unchecked; only the first refusal is audited, so a flood cannot flood the audit log.
    """
    limiter: FailureLimiter = request.app.state.limiter
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait:
        if limiter.start_throttling(client):
            ctx.audit.append(
                actor="anonymous", role="none", action="auth.throttle", resource=f"client:{client}",
                purpose="authentication", decision="deny",
                reasons=[f"too many failed attempts; refused for {wait}s"],
                policy_hash=ctx.policy.policy_hash, details={"channel": channel},
            )
        raise RateLimited(f"too many failed authentication attempts from {client}; "
                          f"retry in {wait}s", retry_after=wait)
    try:
        return authenticate(ctx, token, channel=channel)
    except AuthenticationFailed:
        limiter.record_failure(client)
        raise


def get_current_user(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller behind the ``Authorization: Bearer`` token (401 and an audit event otherwise)."""
    token = credentials.credentials if credentials else None
    return authenticate_request(request, ctx, token, channel="api")


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not declare, or a single-valued one given twice:
    a typo (``?stat=APPROVED``) must not silently widen a listing or an audit query, and
    ``?actor=a&actor=b`` must not quietly mean ``b``."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    declared = _query_params(dependant)
    problems = [
        {"loc": ("query", name), "msg": "unknown query parameter", "type": "extra_forbidden"}
        for name in sorted(set(request.query_params) - set(declared))]
    problems += [
        {"loc": ("query", name), "msg": "given more than once", "type": "too_many_values"}
        for name, many in sorted(declared.items())
        if not many and len(request.query_params.getlist(name)) > 1]
    if problems:
        raise RequestValidationError(problems)


def _query_params(dependant: Dependant) -> dict[str, bool]:
    """Declared query parameter names -> whether each takes several values."""
    found = {p.alias: field_annotation_is_sequence(p.field_info.annotation)
             for p in dependant.query_params}
    for sub in dependant.dependencies:
        found.update(_query_params(sub))
    return found
