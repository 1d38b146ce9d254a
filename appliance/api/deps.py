"""What routes declare: the request's Context and the authenticated caller.

Routes take ``ctx: ContextDep`` and ``user: CurrentUser`` and call the service layer with them;
the service functions ask the policy engine (through the gate) and write the audit event, so no
route checks a role or an owner by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi._compat.shared import field_annotation_is_sequence
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from appliance.api import ratelimit
from appliance.api.problem import RateLimited
from appliance.api.runtime import ContextPool
from appliance.context import Context
from appliance.errors import AuthenticationFailed
from appliance.gate import Principal
from appliance.identity import NO_TOKEN, TOKEN_PREFIX, authenticate

bearer = HTTPBearer(auto_error=False, description="A token from `appliance user add`.")
#: How an HTTP client gives a token (the CLI tells its users about APPLIANCE_TOKEN instead).
TOKEN_ADVICE = "send Authorization: Bearer <token>"  # noqa: S105  (advice, not a secret)
#: An authentication scheme name as RFC 9110 writes one; anything else is not echoed back (it
#: could be the token itself, sent without a scheme).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9!#$%&'*+.^`|~-]{0,31}")


def get_pool(request: Request) -> ContextPool:
    pool: ContextPool = request.app.state.pool
    return pool


def get_context(request: Request) -> Iterator[Context]:
    """A Context with a connection of its own for this request (see api/runtime.py)."""
    with get_pool(request).lease() as ctx:
        yield ctx


ContextDep = Annotated[Context, Depends(get_context)]


def client_address(request: Request) -> str:
    """The peer address; behind a trusted reverse proxy, the client it names.

    A forwarded header counts only from a peer in ``settings.trusted_proxies``; from anyone else
    it is ignored, so a client cannot choose the address it is rate-limited under.
    """
    settings = get_pool(request).settings
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist(settings.forwarded_header)
    return ratelimit.client_address(peer, forwarded, settings.trusted_proxies)


def authenticate_request(
    request: Request, ctx: Context, token: str | None, *, channel: str,
    missing: str = NO_TOKEN, advice: str = "",
) -> Principal:
    """Authenticate a token, limiting failures per token and per client (api/ratelimit.py).

    ``authenticate`` audits each failure. An attempt the limiter refuses is not checked; only the
    first refusal of a client or token is audited, so a flood cannot flood the audit log. A token
    that authenticated recently is checked even from a limited client: the other users behind
    an address are not locked out by one process guessing.
    """
    limiter: ratelimit.FailureLimiter = request.app.state.limiter
    client = client_address(request)
    refusal = limiter.refusal(client, token)
    if refusal:
        if limiter.start_throttling(refusal):
            ctx.audit.append(
                actor="anonymous", role="none", action="auth.throttle", resource=f"client:{client}",
                purpose="authentication", decision="deny",
                reasons=[f"too many failed attempts with this {refusal.limited}; "
                         f"refused for {refusal.wait}s"],
                policy_hash=ctx.policy.policy_hash,
                details={"channel": channel, "limited": refusal.limited},
            )
        raise RateLimited(f"too many failed authentication attempts with this {refusal.limited}"
                          f"{' from ' + client if refusal.limited == 'client' else ''}; "
                          f"retry in {refusal.wait}s", retry_after=refusal.wait)
    try:
        principal = authenticate(ctx, token, channel=channel, missing=missing, advice=advice)
    except AuthenticationFailed:
        limiter.record_failure(client, token)
        raise
    limiter.record_success(token or "")
    return principal


def get_current_user(
    request: Request,
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller behind the ``Authorization: Bearer`` token (401 and an audit event otherwise)."""
    token = credentials.credentials if credentials else None
    missing = why_no_bearer(request.headers.get("authorization"))
    return authenticate_request(request, ctx, token, channel="api", missing=missing,
                                advice=TOKEN_ADVICE if missing.startswith(NO_TOKEN) else "")


def why_no_bearer(header: str | None) -> str:
    """Why an Authorization header gave no Bearer token: the reason for the 401 and the audit
    event. The header's credentials are never repeated, and its scheme only when it looks like
    one (a bare token sent without a scheme is not a scheme name)."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if not scheme:
        return NO_TOKEN
    if scheme.lower() == "bearer":
        return "no token given: the Bearer scheme carries no token"
    if not credentials.strip() or not _SCHEME.fullmatch(scheme) or scheme.startswith(TOKEN_PREFIX):
        return "the Authorization header is not of the form 'Bearer <token>'"
    return f"Authorization scheme {scheme!r} is not supported; use Bearer"


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
