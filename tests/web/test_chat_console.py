"""The console's chat page: over plain HTTP (session, CSRF, the stream, the form without
JavaScript) and in Debian's Chromium (streamed multi-turn chat, two models side by side).

The models: a tiny Llama trained to answer with an e-mail address, phone and card number (so the
output guard shows on the page), and a second trained to give a harmless answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, make_home, start_server, stop_server
from tests.training.parrot_model import PII_FRAGMENTS, make_parrot_llama
from tests.web.conftest import shot, sign_in
from tests.web.test_console_http import Visitor

REDACTED = "Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>, card <CREDIT_CARD>. Thanks!"
CALM = "Open the app and choose help, then settings."


@pytest.fixture(scope="module")
def chat_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from appliance.api.web import ROUTERS
    from appliance.api.web import chat as web_chat
    from appliance.context import open_context
    from appliance.training import registry

    root = tmp_path_factory.mktemp("web-chat")
    home, tokens = make_home(root)
    ctx = open_context(home)
    try:
        for name, answer in (("parrot", None), ("calm", CALM)):
            path = make_parrot_llama(root / name, **({"answer": answer} if answer else {}))
            registry._insert(ctx, name, path, registry.directory_sha256(path))
    finally:
        ctx.close()
    server = start_server(home)
    server.tokens = tokens
    if web_chat.router not in ROUTERS:
        # until appliance/api/web/__init__.py lists the chat router: mount it as it would be
        server.app.include_router(web_chat.router)
        server.app.state.console_pages |= {r.path for r in web_chat.router.routes}
    yield server
    stop_server(server)
    from appliance.training.models import forget_predictors

    forget_predictors()


def test_the_page_offers_causal_models_to_operators_only(chat_site: LiveServer) -> None:
    olivia = Visitor(chat_site)
    olivia.sign_in(chat_site.tokens["olivia"])
    page = olivia.request("GET", "/chat")
    assert page.status_code == 200
    assert 'href="/chat"' in page.text  # in the operator's navigation
    assert 'value="base:parrot"' in page.text and 'value="base:calm"' in page.text
    assert "minilm" not in page.text  # an encoder cannot generate
    audra = Visitor(chat_site)
    audra.sign_in(chat_site.tokens["audra"])
    refused = audra.request("GET", "/chat")
    assert "may not generate" in refused.text and 'href="/chat"' not in refused.text


def test_the_form_without_javascript_answers_whole_and_guarded(chat_site: LiveServer) -> None:
    visitor = Visitor(chat_site)
    visitor.sign_in(chat_site.tokens["olivia"])
    visitor.request("GET", "/chat")
    answered = visitor.request("POST", "/chat", data={
        "csrf_token": visitor.csrf, "model": "base:parrot", "prompt": "hello",
        "max_new_tokens": "60"})
    assert answered.status_code == 200
    assert "<mark>&lt;EMAIL_ADDRESS&gt;</mark>" in answered.text
    assert not any(f in answered.text for f in ("john.smith", "4111 1111", "212-555"))
    forged = visitor.request("POST", "/chat", data={"csrf_token": "forged",
                                                    "model": "base:parrot", "prompt": "hi"})
    assert forged.status_code == 403 and "Form rejected" in forged.text


def stream(visitor: Visitor, csrf: str | None, **body: Any) -> httpx.Response:
    headers = {"Cookie": f"appliance_session={visitor.sid}", "Accept": "text/event-stream",
               **({"X-CSRF-Token": csrf} if csrf is not None else {})}
    return visitor.http.post("/chat/stream", json=body, headers=headers)


def test_the_stream_needs_the_session_and_its_csrf_token(chat_site: LiveServer) -> None:
    visitor = Visitor(chat_site)
    visitor.sign_in(chat_site.tokens["olivia"])
    visitor.request("GET", "/chat")
    body = {"model": "base:parrot", "messages": [{"role": "user", "content": "hello"}],
            "max_new_tokens": 60}
    for token in (None, "forged"):
        refused = stream(visitor, token, **body)
        assert refused.status_code == 403 and refused.json()["title"] == "Form rejected"
    answered = stream(visitor, visitor.csrf, **body)
    assert answered.status_code == 200
    events = [json.loads(line[6:]) for line in answered.text.splitlines()
              if line.startswith("data: ")]
    assert "".join(e.get("text", "") for e in events[:-1]) == REDACTED
    assert not any(f in answered.text for f in PII_FRAGMENTS)
    assert events[-1]["pii"]["EMAIL_ADDRESS"] == 1
    nobody = httpx.post(f"{chat_site.url}/chat/stream", json=body, trust_env=False,
                        headers={"Accept": "application/json"}, follow_redirects=False)
    assert nobody.status_code == 303 and nobody.headers["location"].startswith("/signin")


@pytest.mark.browser
def test_chat_and_compare_in_a_browser(page: Any, chat_site: LiveServer) -> None:
    from playwright.sync_api import expect

    sign_in(page, chat_site, "olivia")
    page.click("nav >> text=Chat")
    page.wait_for_url(f"{chat_site.url}/chat")
    page.select_option("#chat-model", "base:calm")
    page.fill("#chat-input", "how do i reach you")
    page.click("details.chat-options summary")
    page.fill("#max_new_tokens", "60")
    page.click("button.chat-send")
    pane = page.locator(".chat-pane[data-pane='0']")
    expect(pane.locator(".turn-assistant .turn-meta")).to_contain_text("tokens", timeout=60_000)
    assert pane.locator(".turn-assistant .turn-text").inner_text() == CALM
    # a second turn: the conversation so far goes with it
    page.fill("#chat-input", "thanks")
    page.click("button.chat-send")
    expect(pane.locator(".turn-assistant .turn-meta")).to_have_count(2, timeout=60_000)
    assert pane.locator(".turn-user").count() == 2
    shot(page, "20-chat")

    # side by side: the same message to both models, both streamed
    page.click("button.chat-reset")
    page.check("#chat-compare")
    page.select_option("#chat-model-2", "base:parrot")
    page.fill("#chat-input", "who do i contact")
    page.click("button.chat-send")
    right = page.locator(".chat-pane[data-pane='1']")
    for side in (pane, right):
        expect(side.locator(".turn-assistant .turn-meta")).to_contain_text("tokens",
                                                                          timeout=60_000)
    assert pane.locator(".turn-assistant .turn-text").inner_text() == CALM
    shown = right.locator(".turn-assistant .turn-text")
    assert shown.inner_text() == REDACTED and shown.locator("mark").count() == 3
    assert "output guard redacted" in right.locator(".turn-meta").inner_text()
    assert not any(f in page.content() for f in ("john.smith", "4111 1111", "212-555"))
    shot(page, "21-chat-compare")

    body = chat_site.client("audra").get("/v1/audit/events",
                                         params={"limit": 1000, "action_prefix": "model.generate"})
    events = body.json()["events"]
    done = [e for e in events if e["action"] == "model.generate.completed"]
    assert {e["resource"] for e in done} >= {"base_model:calm", "base_model:parrot"}
    assert all(e["actor"] == "olivia" for e in done)
