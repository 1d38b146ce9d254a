"""Console sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from appliance.api.deps import ContextDep, authenticate_request
from appliance.api.web.console import (
    HOME,
    ConsoleDep,
    FormDep,
    FormRejected,
    current_session,
    get_store,
    redirect,
    render,
)
from appliance.api.web.sessions import COOKIE, check_csrf
from appliance.context import Context
from appliance.errors import AuthenticationFailed
from appliance.gate import Principal

router = APIRouter(include_in_schema=False)


@router.get("/")
def show_home(request: Request) -> Response:
    """Each role's landing page, or the sign-in page."""
    _, session = current_session(request)
    if session is None or not session.role:
        return redirect("/signin")
    return redirect(HOME.get(session.role, "/datasets"))


@router.get("/signin")
def show_signin(request: Request, next: str = "/") -> Response:
    """The sign-in form (starts a pre-sign-in session that carries its CSRF token)."""
    sid, session = current_session(request)
    if session is not None and session.user:
        return redirect(_safe_next(next))
    response: Response
    if session is None:
        sid, session = get_store(request).create()
        response = render(request, "signin.html", None, next=_safe_next(next),
                          csrf_override=session.csrf)
        _set_cookie(request, response, sid)
        return response
    return render(request, "signin.html", None, next=_safe_next(next))


@router.post("/signin")
def sign_in(
    request: Request,
    ctx: ContextDep,
    token: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Exchange a token for a session: a new random session id in an HttpOnly cookie."""
    sid, session = current_session(request)
    if session is None or not check_csrf(session, csrf_token):
        raise FormRejected("the sign-in form expired; reload the page and sign in again")
    try:
        principal = authenticate_request(request, ctx, token.strip(), channel="console")
    except AuthenticationFailed as exc:
        return render(request, "signin.html", None, status=exc.http_status, next=_safe_next(next),
                      error=exc.message, csrf_override=session.csrf)
    store = get_store(request)
    store.drop(sid)  # a fresh id on sign-in: nothing chosen before it survives
    new_sid, _ = store.create(principal.name, principal.role)
    _audit_session(ctx, principal, "console.signin")
    response = redirect(_safe_next(next) if next != "/" else HOME.get(principal.role, "/"))
    _set_cookie(request, response, new_sid)
    return response


@router.post("/signout")
def sign_out(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep) -> Response:
    """End the session."""
    get_store(request).drop(console.sid)
    _audit_session(ctx, console.principal, "console.signout")
    response = redirect("/signin")
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def _set_cookie(request: Request, response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, path="/", secure=True, httponly=True, samesite="strict",
                        max_age=int(get_store(request).absolute))


def _safe_next(target: str) -> str:
    """Only paths on this site: no scheme, no host, no protocol-relative ``//``."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _audit_session(ctx: Context, principal: Principal, action: str) -> None:
    ctx.audit.append(actor=principal.name, role=principal.role, action=action,
                     resource="channel:console", purpose="authentication", decision="allow",
                     reasons=[], policy_hash=ctx.policy.policy_hash, details={})
