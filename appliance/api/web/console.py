"""What console pages declare: the signed-in user, its session, checked forms; and rendering.

Pages call the same service functions as the API with the session's user, so the policy and the
audit log see the console exactly as they see the API (channel aside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.datastructures import FormData

from appliance.api.deps import ContextDep
from appliance.api.problem import Problem
from appliance.api.web.sessions import COOKIE, Session, SessionStore, check_csrf
from appliance.context import Context
from appliance.errors import ApplianceError, NotFound
from appliance.gate import Principal, build_input
from appliance.identity import get_user

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
_PLACEHOLDER = re.compile(r"&lt;([A-Z][A-Z_]{1,40})&gt;")


def _mark_redactions(value: Any) -> Markup:
    """Escape a value, then highlight the anonymizer's ``<ENTITY>`` placeholders in it."""
    return Markup(_PLACEHOLDER.sub(r"<mark>&lt;\1&gt;</mark>", str(escape(value))))  # noqa: S704


def _epoch(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _mark_scored(value: Any, marks: list[tuple[int, int, str, float]] | None) -> Markup:
    """Escape a stored text and mark each replacement with its entity type and score (from the
    report's review marks); without marks, highlight placeholders as ``redactions`` does."""
    text = str(value)
    if not marks or any(end > len(text) for _, end, _, _ in marks):
        return _mark_redactions(value)

    parts, cursor = [], 0
    for start, end, entity, score in marks:
        if start < cursor:
            continue
        replaced = text[start:end]
        label = f"{score:.2f}" if entity in replaced else f"{entity} {score:.2f}"
        parts += [str(escape(text[cursor:start])), _scored_mark(replaced, entity, score, label)]
        cursor = end
    parts.append(str(escape(text[cursor:])))
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


def _scored_mark(replaced: str, entity: str, score: float, label: str | None = None) -> Markup:
    """One replacement as the console draws it everywhere: type and score in its title and data
    attributes, outlined when borderline, the score (and type) after it when ``label`` is given."""
    from appliance.datasets.review import BORDERLINE

    css = "redaction borderline" if score < BORDERLINE else "redaction"
    tail = f'<span class="score">{escape(label)}</span>' if label is not None else ""
    return Markup(f'<mark class="{css}" title="{escape(entity)}, score {score:.2f}" '  # noqa: S704
                  f'data-entity="{escape(entity)}" data-score="{score:.3f}">{escape(replaced)}'
                  f"{tail}</mark>")


templates.env.filters["redactions"] = _mark_redactions
templates.env.filters["scored_redactions"] = _mark_scored
templates.env.filters["scored_mark"] = _scored_mark
templates.env.filters["epoch"] = _epoch

#: Which pages each role sees in the navigation (the policy still decides every action).
#: Feedback campaigns: operators run them; compliance and auditors read their results
#: (campaign.list/show/results); annotators judge the items assigned to them.
NAV = {
    "operator": [("/datasets", "Datasets"), ("/jobs", "Jobs"), ("/models", "Models"),
                 ("/chat", "Chat"), ("/campaigns", "Campaigns"), ("/exports", "Exports")],
    "compliance": [("/review", "Review queue"), ("/datasets", "Datasets"),
                   ("/exports", "Export approvals"), ("/campaigns", "Campaigns"),
                   ("/audit", "Audit log")],
    # every page the policy lets an auditor open: the log (with verification and downloads),
    # and the metadata it audits: datasets, jobs, models, campaigns, exports (never dataset
    # contents, never a campaign's items)
    "auditor": [("/audit", "Audit log"), ("/datasets", "Datasets"), ("/jobs", "Jobs"),
                ("/models", "Models"), ("/campaigns", "Campaigns"), ("/exports", "Exports")],
    "admin": [("/users", "Users"), ("/base-models", "Base models"), ("/keys", "Keys")],
    # annotators judge the campaigns they are assigned to, and see nothing else
    "annotator": [("/campaigns", "Campaigns")],
}
HOME = {"operator": "/datasets", "compliance": "/review", "auditor": "/audit", "admin": "/users",
        "annotator": "/campaigns"}


class SignInRequired(Exception):
    """No session, or its user is gone, revoked or expired: send the browser to sign in."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(next_path)
        self.next_path = next_path


class FormRejected(ApplianceError):
    """The form's CSRF token is missing or does not match the session."""

    http_status = 403
    title = "Form rejected"


@dataclass
class Console:
    principal: Principal
    session: Session
    sid: str


def get_store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def current_session(request: Request) -> tuple[str | None, Session | None]:
    sid = request.cookies.get(COOKIE)
    return sid, get_store(request).get(sid)


def get_console(request: Request, ctx: ContextDep) -> Console:
    """The signed-in user, re-checked against the user table on every request."""
    sid, session = current_session(request)
    if session is None or session.user is None or sid is None:
        raise SignInRequired(request.url.path)
    try:
        user = get_user(ctx, session.user)
    except NotFound:
        user = None
    if (user is None or user.revoked_at
            or datetime.fromisoformat(user.expires_at) <= ctx.clock()):
        get_store(request).drop(sid)
        raise SignInRequired(request.url.path)
    return Console(Principal(user.name, user.role), session, sid)


ConsoleDep = Annotated[Console, Depends(get_console)]


async def checked_form(request: Request, console: ConsoleDep) -> FormData:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form(max_files=0, max_fields=50, max_part_size=64 * 1024)
    token = form.get("csrf_token")
    if not check_csrf(console.session, token if isinstance(token, str) else None):
        raise FormRejected("the form's security token is missing or stale; reload the page "
                           "and submit it again")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def can(ctx: Context, principal: Principal, action: str, resource: dict[str, Any],
        purpose: str) -> bool:
    """Would the policy allow this? Only to decide which buttons a page shows.

    A dry run: nothing is read, so nothing is audited. Pressing the button still goes through the
    service function, the gate and the audit log.
    """
    return bool(ctx.policy.decide(build_input(principal, action, resource, purpose)).allow)


def render(request: Request, name: str, console: Console | None, *, status: int = 200,
           **values: Any) -> HTMLResponse:
    session = console.session if console else current_session(request)[1]
    role = console.principal.role if console else None
    flash: list[str] = []
    if session is not None and session.flash:
        flash, session.flash = session.flash, []
    csrf = values.pop("csrf_override", None) or (session.csrf if session else "")
    pages: set[str] = request.app.state.console_pages
    nav = [(href, label) for href, label in NAV.get(role or "", []) if href in pages]
    context = {"request": request, "console": console, "user": console.principal if console
               else None, "nav": nav, "csrf": csrf, "flash": flash,
               "path": request.url.path, **values}
    return templates.TemplateResponse(request, name, context, status_code=status)


def redirect(url: str, console: Console | None = None, message: str | None = None) -> Response:
    if console is not None and message:
        console.session.flash.append(message)
    return RedirectResponse(url, status_code=303)


def render_problem(request: Request, problem: Problem, headers: dict[str, str]) -> Response:
    """The console's error page: the same problem document, as HTML."""
    _, session = current_session(request)
    console = None
    if session is not None and session.user and session.role:
        console = Console(Principal(session.user, session.role), session, "")
    page = render(request, "error.html", console, status=problem.status, problem=problem)
    page.headers.update({k: v for k, v in headers.items() if k.lower() != "www-authenticate"})
    return page


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    target = exc.next_path if isinstance(exc, SignInRequired) else "/"
    return RedirectResponse(f"/signin?next={quote(target, safe='/')}", status_code=303)
