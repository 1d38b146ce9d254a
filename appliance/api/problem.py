"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error a route can raise ends in :func:`handle_error`: an :class:`ApplianceError` keeps its
``http_status``, ``title`` and ``reasons``; request validation becomes 422 with the offending
fields, and a body that is not JSON becomes 400 with the decoder's message, line and column; an
unknown route or method keeps Starlette's status; anything else is a bug and becomes a
500 whose detail says nothing about the cause (the traceback goes to the server log only).
The console asks for HTML and gets the same problem rendered as a page.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from appliance.errors import (
    ApplianceError,
    AuthenticationFailed,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("appliance.api")


class Problem(BaseModel):
    """An RFC 9457 problem document, with the policy's reasons as an extension member."""

    type: str = Field(description="URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for this request.")
    instance: str = Field(description="The request path.")
    reasons: list[str] = Field(default_factory=list,
                               description="Why: e.g. the policy rules that denied the request.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For 422: each invalid field with its location and message.")


class RateLimited(AuthenticationFailed):
    """Too many failed authentication attempts from one client; try again later."""

    http_status = 429
    title = "Too many failed authentication attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def problem_type(title: str) -> str:
    return "urn:appliance:problem:" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _doc(what: str) -> dict[str, Any]:
    return {"description": what,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


Responses = dict[int | str, dict[str, Any]]

#: Error responses shared by every authenticated route, for the OpenAPI document.
COMMON: Responses = {
    400: _doc("Malformed request or input; nothing was changed."),
    401: _doc("No token, or a bad one."),
    403: _doc("The policy denied the request (see reasons)."),
    422: _doc("A parameter is missing or malformed."),
    429: _doc("Too many failed attempts from this client."),
    503: _doc("Policy engine or audit log unavailable."),
}
NOT_FOUND: Responses = {404: _doc("No such object.")}
CONFLICT: Responses = {409: _doc("The object's state does not allow this.")}
BAD_INPUT: Responses = {400: _doc("Malformed input; nothing changed.")}
TOO_LARGE: Responses = {413: _doc("Over the size limit.")}


def responses(*extra: Responses) -> Responses:
    merged: Responses = {**COMMON}
    for part in extra:
        merged.update(part)
    return merged


def problem_response(
    request: Request, status: int, title: str, detail: str, *, reasons: list[str] | None = None,
    errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None,
) -> Response:
    problem = Problem(type=problem_type(title), title=title, status=status, detail=detail,
                      instance=request.url.path, reasons=list(reasons or []), errors=errors)
    renderer = getattr(request.app.state, "render_problem", None)
    if renderer is not None and _wants_html(request):
        page: Response = renderer(request, problem, headers or {})
        return page
    return JSONResponse(problem.model_dump(exclude_none=True), status_code=status,
                        media_type=PROBLEM_JSON, headers=headers)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get(
        "accept", "")


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one exception handler: every error becomes a problem document."""
    if isinstance(exc, ApplianceError):
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, AuthenticationFailed):
            headers["WWW-Authenticate"] = 'Bearer realm="appliance"'
        if exc.http_status >= 500:
            log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return problem_response(request, exc.http_status, exc.title, exc.message,
                                reasons=exc.reasons, headers=headers)
    if isinstance(exc, RequestValidationError):
        malformed = _malformed_json(exc)
        if malformed is not None:
            return problem_response(request, 400, "Malformed request body", malformed["msg"],
                                    errors=[malformed])
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem_response(request, 422, "Request validation failed", detail, errors=errors)
    if isinstance(exc, StarletteHTTPException):
        title = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}.get(
            exc.status_code, "HTTP error")
        return problem_response(request, exc.status_code, title, str(exc.detail),
                                headers=dict(exc.headers or {}))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "Internal server error",
                            "the server failed to handle this request; see its log")


def _malformed_json(exc: RequestValidationError) -> dict[str, Any] | None:
    """A body that is not JSON at all, said the way the decoder says it, with line and column.

    FastAPI reports it as one ``json_invalid`` error located at ("body", <char offset>) with the
    decoder's message in ``ctx`` and the document as the exception's body; "body.11: JSON decode
    error" tells the client neither what nor where.
    """
    found = exc.errors()
    if len(found) != 1 or found[0].get("type") != "json_invalid":
        return None
    message = str((found[0].get("ctx") or {}).get("error") or "JSON decode error")
    loc = tuple(found[0].get("loc", ()))
    entry: dict[str, Any] = {"loc": ["body"], "type": "json_invalid"}
    if len(loc) == 2 and isinstance(loc[1], int) and isinstance(exc.body, str | bytes):
        doc = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
        where = json.JSONDecodeError(message, doc, min(loc[1], len(doc)))
        entry.update(line=where.lineno, column=where.colno, position=where.pos)
        message = f"{message} at line {where.lineno} column {where.colno}"
    entry["msg"] = f"request body is not valid JSON: {message}"
    return entry


HANDLED: tuple[type[Exception], ...] = (
    ApplianceError, RequestValidationError, StarletteHTTPException, Exception,
)
