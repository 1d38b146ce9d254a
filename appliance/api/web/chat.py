"""The console's chat page: pick a generative model (a trained one or a base), chat with
streamed answers, or compare two models side by side on the same prompts (base vs fine-tuned).

Each turn sends the conversation so far (per model, since their answers differ) to
``POST /chat/stream``, which is the API's stream (:mod:`appliance.api.chatstream`) under the
session's user and its CSRF token (the ``X-CSRF-Token`` header, as the upload form sends it):
the same ``model.generate`` decision and outcome events, the same output guard. Without
JavaScript the page's form posts one prompt to ``POST /chat`` and the answer comes back whole.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance.api.chatstream import chat_response
from appliance.api.deps import ContextDep
from appliance.api.schemas import ChatRequest
from appliance.api.web.console import ConsoleDep, FormDep, FormRejected, can, render
from appliance.api.web.sessions import check_csrf
from appliance.context import Context
from appliance.errors import InvalidInput
from appliance.gate import Principal
from appliance.training import chat, models

router = APIRouter(include_in_schema=False)


class ConsoleChatRequest(ChatRequest):
    """The API's chat request, with the model it is for."""

    model: str


@router.get("/chat")
def show_chat(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """The chat page, with the models the user may pick."""
    return _page(request, ctx, console)


@router.post("/chat")
def answer_form(request: Request, ctx: ContextDep, console: ConsoleDep,
                form: FormDep) -> Response:
    """One prompt answered whole (the page's form without JavaScript)."""
    model, prompt = str(form.get("model", "")), str(form.get("prompt", ""))
    tokens = str(form.get("max_new_tokens", "") or chat.DEFAULT_NEW_TOKENS).strip()
    if not tokens.isdigit():
        raise InvalidInput("max new tokens must be a whole number")
    [answer] = chat.generate(ctx, console.principal, model, [prompt],
                             chat.make_options(max_new_tokens=int(tokens)))
    request.app.state.metrics.observe_generation([answer], "batch")
    return _page(request, ctx, console, selected=model, asked=prompt, answer=answer)


@router.post("/chat/stream")
def stream_answer(request: Request, ctx: ContextDep, console: ConsoleDep,
                  body: ConsoleChatRequest) -> Response:
    """The next answer of a conversation, streamed (server-sent events, as the API's)."""
    if not check_csrf(console.session, request.headers.get("x-csrf-token")):
        raise FormRejected("the page's security token is missing or stale; reload the page")
    stream = chat.open_stream(ctx, console.principal, body.model,
                              [m.model_dump() for m in body.messages],
                              chat.make_options(**body.options()))
    return chat_response(stream, request.app.state.metrics)


def may_generate(ctx: Context, principal: Principal) -> bool:
    return can(ctx, principal, "model.generate", {"type": "model", "id": "*"}, "inference")


def choices(ctx: Context, principal: Principal) -> list[dict[str, Any]]:
    """Each model offered: its reference, a label, and (trained models) its base's reference,
    the natural partner to compare it with."""
    trained = {m.model_id: m for m in models.list_models(ctx, principal)}
    out = []
    for ref in chat.generative_models(ctx, principal):
        info = trained.get(ref)
        if info is None:
            out.append({"ref": ref, "label": f"{ref} (base model)", "base": None})
        else:
            out.append({"ref": ref, "base": f"{chat.BASE_PREFIX}{info.base_model}",
                        "label": f"{ref} ({info.task} on {info.base_model}, "
                                 f"{info.created_at[:10]})"})
    return out


def _page(request: Request, ctx: Context, console: Any, **extra: Any) -> Response:
    allowed = may_generate(ctx, console.principal)
    offered = choices(ctx, console.principal) if allowed else []
    refs = [c["ref"] for c in offered]
    wanted = extra.pop("selected", None) or request.query_params.get("model")
    first = wanted if wanted in refs else (refs[0] if refs else None)
    partner = next((c["base"] for c in offered if c["ref"] == first), None)
    second = request.query_params.get("compare") or (partner if partner in refs else None)
    return render(request, "chat.html", console, may_generate=allowed, choices=offered,
                  first=first, second=second if second in refs else None,
                  guard=ctx.settings.generation_guard, max_new_tokens=chat.MAX_NEW_TOKENS,
                  default_tokens=chat.DEFAULT_NEW_TOKENS, title="Chat", **extra)
