"""The console shows the memorization scan to whoever approves an export, and the generation
metrics and scan on the model card; over plain HTTP on loopback against a live server whose
home holds a LoRA SFT model of the tiny Llama (trained through the real job path)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from tests.api.conftest import LiveServer, make_home, start_server, stop_server
from tests.training.tiny_sft_home import (
    PEOPLE,
    generation_result,
    register_tiny_llama,
    scan_result,
    set_card_metrics,
    train_sft_model,
)
from tests.web.test_console_http import Visitor


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from appliance.context import open_context
    from appliance.gate import Principal

    root = tmp_path_factory.mktemp("export-scan-console")
    home, tokens = make_home(root)
    ctx = open_context(home)
    try:
        register_tiny_llama(ctx, root)
        model_id = train_sft_model(ctx, {name: Principal(name, role) for name, role in PEOPLE})
        set_card_metrics(ctx, model_id, generation=generation_result(),
                         memorization=scan_result(flagged=True))
    finally:
        ctx.close()
    server = start_server(home)
    server.tokens = tokens
    server.model_id = model_id  # type: ignore[attr-defined]
    yield server
    stop_server(server)


def signed_in(site: LiveServer, who: str) -> Visitor:
    visitor = Visitor(site)
    assert visitor.sign_in(site.tokens[who]).status_code == 303
    return visitor


def text_of(page: str) -> str:
    """The page's text, tags dropped and whitespace folded (what a reader sees, roughly)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def section(page: str, name: str) -> str:
    found = re.search(rf'data-section="{name}".*?(?=data-section=|</section>)', page, re.S)
    assert found, f"no {name} section"
    return text_of(found.group(0))


def test_model_card_shows_generation_and_the_scan(site: LiveServer) -> None:
    operator = signed_in(site, "olivia")
    page = operator.request("GET", f"/models/{site.model_id}")  # type: ignore[attr-defined]
    assert page.status_code == 200
    generation = section(page.text, "generation")
    assert "exact match 0.750 0.000" in generation  # fine-tuned beside base
    assert "ROUGE-L 0.810 0.120" in generation and "chrF 0.775 0.093" in generation
    examples = text_of(page.text.split('data-table="generation-examples"', 1)[1])
    assert "what is the weather today 40" in examples and "hello hello" in examples

    scan = section(page.text, "memorization")
    assert "Flagged: the model may have memorised training data" in scan
    assert "canary 1 (10x in training): greedy decoding reproduces its secret" in scan
    assert 'class="alert" data-field="scan-verdict"' in page.text
    # the export form offers both bundles of a LoRA language model
    assert '<option value="merged">' in page.text and '<option value="adapter">' in page.text


def test_the_approver_sees_the_scan_and_needs_a_reason(site: LiveServer) -> None:
    operator = signed_in(site, "olivia")
    operator.request("GET", f"/models/{site.model_id}")  # type: ignore[attr-defined]
    bad = operator.request("POST", f"/models/{site.model_id}/exports",  # type: ignore[attr-defined]
                           data={"csrf_token": operator.csrf, "contents": "everything"})
    assert bad.status_code == 400 and "unknown bundle contents" in bad.text
    operator.request("GET", f"/models/{site.model_id}")  # type: ignore[attr-defined]
    requested = operator.request("POST", f"/models/{site.model_id}/exports",  # type: ignore[attr-defined]
                                 data={"csrf_token": operator.csrf, "contents": "merged"})
    assert requested.status_code == 303 and requested.headers["location"] == "/exports"

    officer = signed_in(site, "carol")
    page = officer.request("GET", "/exports")
    assert page.status_code == 200
    [export_id] = re.findall(r'action="/exports/(exp_[0-9a-f]+)/review"', page.text)
    assert 'data-field="flagged">memorization flagged' in page.text
    shown = text_of(page.text)
    assert "the merged model (a Hugging Face directory, model/)" in shown
    scan = section(page.text, "memorization")
    assert "Flagged: the model may have memorised training data" in scan
    assert "gap 0.950" in scan and "flagged from a gap of 0.1" in scan
    assert "training 40 38 0.950" in scan and "held-out (baseline) 40 0 0.000" in scan
    canaries = text_of(page.text.split('data-table="canaries"', 1)[1].split("</table>", 1)[0])
    assert "abababababababab… 10× 29.9 1 1 of 257 yes" in canaries
    assert "the scan flagged this model" in shown  # the reason box says why it matters
    assert shown.count("Memorization scan") == 1  # once, not again inside the card

    approved = officer.request("POST", f"/exports/{export_id}/review", data={
        "csrf_token": officer.csrf, "decision": "approve",
        "reason": "approved: the records are public answers"})
    assert approved.status_code == 303
    after = text_of(officer.request("GET", "/exports").text)
    assert "APPROVED" in after and "the records are public answers" in after


def test_a_clean_scan_reads_not_flagged(site: LiveServer) -> None:
    from appliance.context import open_context

    ctx = open_context(site.home)
    try:
        set_card_metrics(ctx, site.model_id,  # type: ignore[attr-defined]
                         memorization=scan_result(flagged=False))
    finally:
        ctx.close()
    page = signed_in(site, "audra").request("GET", f"/models/{site.model_id}")  # type: ignore[attr-defined]
    assert page.status_code == 200
    scan = section(page.text, "memorization")
    assert "not flagged" in scan and "Flagged:" not in scan
    assert 'class="alert"' not in page.text.split('data-section="memorization"', 1)[1]
