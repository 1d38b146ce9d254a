"""The operator's and compliance's training pages in a real browser: start a job from the form,
watch it live, read the model's card, and take its export through approval and download."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import LiveServer, start_training_server, stop_server
from tests.api.test_training import intent_records
from tests.web.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def trainer_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_training_server(tmp_path_factory.mktemp("web-training"))
    yield server
    stop_server(server)


def test_start_follow_and_export_a_model(page: Any, browser: Any,
                                         trainer_site: LiveServer) -> None:
    site = trainer_site
    dataset_id = site.dataset("olivia", intent_records(40), name="intents.jsonl")
    site.client("carol").post(f"/v1/datasets/{dataset_id}/approve", json={"reason": "ok"})

    sign_in(page, site, "olivia")
    page.goto(f"{site.url}/jobs")
    picker = page.locator("#dataset_ids")
    assert "0 selected" not in picker.inner_text() and "choose one or more" in picker.inner_text()
    assert page.locator("#dataset_ids input[type=checkbox]:checked").count() == 0
    page.check(f"#dataset_ids input[value='{dataset_id}']")
    page.select_option("#base_model", "tiny-bert")
    page.fill("#epochs", "12")
    page.click("form[action='/jobs'] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "/jobs/job_" in page.url, page.locator("main").inner_text()
    job_url = page.url
    assert "queued" in page.locator(".flash").inner_text()
    from playwright.sync_api import expect

    # The live feed (server-sent events; no polling, no eval: the page's CSP forbids it) fills
    # in the step counter.
    expect(page.locator("[data-progress=step]")).not_to_have_text("0", timeout=120_000)
    shot(page, "09-job-running")
    # At the end the page reloads itself and links the model.
    page.wait_for_selector("a[href^='/models/mdl_']", timeout=300_000)
    assert page.url == job_url
    assert page.locator(".badge.big").inner_text() == "SUCCEEDED"
    # the loss at every logging step was kept with the job, not only the final step's
    train_points = page.locator("polyline.chart-line.train").get_attribute("points") or ""
    assert len(train_points.split()) >= 10
    assert page.locator("polyline.chart-line.eval").get_attribute("points")
    x_ticks = page.locator(".x-tick").all_text_contents()
    assert len(set(x_ticks)) == len(x_ticks) >= 3 and all(t.isdigit() for t in x_ticks)
    assert all(float(t) >= 0 for t in page.locator(".y-tick").all_text_contents())
    outcome = page.locator("[data-field=outcome]").inner_text()
    assert outcome.startswith("succeeded in ") and " steps, " in outcome
    assert "evaluating" not in page.locator("section.card").first.inner_text()
    shot(page, "10-job-finished")

    page.click("a[href^='/models/mdl_']")
    page.wait_for_url(f"{site.url}/models/mdl_*")
    model_id = page.url.rsplit("/", 1)[1]
    assert page.locator("table.confusion tbody tr").count() == 3
    accuracy = page.locator("[data-metric=accuracy] .stat-ci").inner_text()
    assert accuracy.startswith("95% CI ")  # Wilson, beside the score
    assert page.locator("[data-metric=n] .stat").inner_text().isdigit()
    assert "Wilson score interval" in page.locator(".ci-method").inner_text()
    assert page.locator("svg.chart.line polyline.chart-line.train").count() == 1
    shot(page, "11-model-card")

    # the try box: text in, label and score out, through the audited model.predict path
    page.fill("#try-text", "i lost my card")
    page.click("section.try button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".try-result .label").inner_text() in {"balance", "card", "transfer"}
    assert 0 < float(page.locator(".try-result .score").inner_text()) <= 1
    body = site.client("audra").get("/v1/audit/events", params={"limit": 1000}).json()
    events = body["events"] if isinstance(body, dict) else body
    assert any(e["action"] == "model.predict" and e["actor"] == "olivia"
               and model_id in e["resource"] for e in events)
    shot(page, "11b-model-tried")
    page.goto(f"{site.url}/models/{model_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("text=Request export")
    page.wait_for_url(f"{site.url}/exports")
    assert "needs a compliance approval" in page.locator(".flash").inner_text()

    reviewer = browser.new_context(viewport={"width": 1280, "height": 900})
    carol = reviewer.new_page()
    sign_in(carol, site, "carol")
    carol.goto(f"{site.url}/exports")
    assert carol.locator("section.export table.confusion").count() == 1  # the card at hand
    assert model_id in carol.locator("section.export").first.inner_text()
    shot(carol, "12-export-approval")
    carol.fill("textarea[name=reason]", "Card reviewed: trained on approved intents only.")
    carol.click("button[value=approve]")
    carol.wait_for_url(f"{site.url}/exports")
    assert "is now APPROVED" in carol.locator(".flash").inner_text()
    reviewer.close()

    page.goto(f"{site.url}/exports")
    with page.expect_download() as download:
        page.click("text=Download signed bundle")
    data = Path(download.value.path()).read_bytes()
    listed = site.client("olivia").get("/v1/exports").json()
    assert hashlib.sha256(data).hexdigest() == listed[0]["bundle_sha256"]
