"""A campaign's states in the console and over HTTP, without a browser: GENERATING (progress, a
page that reloads itself, nothing to judge yet), FAILED (the error), and the lineage of the
preference dataset shown where compliance reads its report.

The service runs with ``start_job_workers=False`` (as with ``--external-job-worker``), so a
campaign stays GENERATING until this test runs the worker's body itself.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from appliance import feedback
from tests.api.conftest import LiveServer, make_home, start_server, stop_server
from tests.web.test_console_http import Visitor

PROMPTS = ["how do i check my balance", "my card was stolen what now", "can i close my account"]


@pytest.fixture(scope="module")
def states_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from appliance import datasets as ds
    from appliance.context import open_context
    from appliance.gate import Principal
    from appliance.identity import add_user
    from appliance.training import registry
    from tests.training.tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("campaign-states")
    home, tokens = make_home(root)
    ctx = open_context(home)
    try:
        path = make_tiny_llama(root / "tiny-a")
        registry._insert(ctx, "tiny-a", path, registry.directory_sha256(path))
        _, tokens["ann"] = add_user(ctx, "ann", "annotator")
        body = b"".join(json.dumps({"prompt": p}).encode() + b"\n" for p in PROMPTS)
        for name in ("prompts", "other prompts"):
            stored = ds.ingest_stream(ctx, Principal("olivia", "operator"), io.BytesIO(body),
                                      name=name, source_name="p.jsonl", fmt="jsonl",
                                      spec=ds.parse_spec({"task": "raw", "redact": False}))
            ds.approve_dataset(ctx, Principal("carol", "compliance"), stored.dataset_id)
    finally:
        ctx.close()
    server = start_server(home, start_job_workers=False)
    server.tokens = tokens
    yield server
    stop_server(server)
    from appliance.training.models import forget_predictors

    forget_predictors()


def dataset_id(site: LiveServer, name: str) -> str:
    listed = site.client("olivia").get("/v1/datasets").json()
    return str(next(d["dataset_id"] for d in listed if d["name"] == name))


def new_campaign(site: LiveServer, prompts: str) -> dict[str, Any]:
    created = site.client("olivia").post("/v1/campaigns", json={
        "name": f"on {prompts}", "dataset_id": dataset_id(site, prompts),
        "models": ["base:tiny-a"], "candidates": 2, "reviewers": ["ann"], "max_new_tokens": 4})
    assert created.status_code == 201, created.text
    return dict(created.json())


def run_worker(site: LiveServer, campaign_id: str) -> feedback.CampaignInfo:
    from appliance.context import open_context

    ctx = open_context(site.home)
    try:
        info = feedback.generate_candidates(ctx, campaign_id)
    finally:
        ctx.close()
    assert info is not None
    return info


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_generating_then_open_campaign_in_the_console_and_its_lineage(
        states_site: LiveServer) -> None:
    site = states_site
    created = new_campaign(site, "prompts")
    assert (created["state"], created["pid"]) == ("GENERATING", None)  # no worker started
    campaign_id = created["campaign_id"]
    shown = site.client("audra").get(f"/v1/campaigns/{campaign_id}").json()
    assert shown["campaign"]["progress_text"] == "generating 0/6 candidates"

    olivia, ann = Visitor(site), Visitor(site)
    olivia.sign_in(site.tokens["olivia"])
    page = olivia.request("GET", f"/campaigns/{campaign_id}").text
    assert "data-refresh-s" in page and 'id="close"' not in page
    assert "Generating 0/6 candidates for 3 prompts" in text(page)
    assert "generating 0/6 candidates" in text(olivia.request("GET", "/campaigns").text)
    ann.sign_in(site.tokens["ann"])
    judge = ann.request("GET", f"/campaigns/{campaign_id}/judge").text
    assert "still generating its candidates" in text(judge) and "judge-form" not in judge

    assert run_worker(site, campaign_id).state == "OPEN"
    page = olivia.request("GET", f"/campaigns/{campaign_id}").text
    assert "data-refresh-s" not in page and 'id="close"' in page and 'id="progress"' in page
    client = site.client("ann")
    for _ in PROMPTS:
        item = client.get(f"/v1/campaigns/{campaign_id}/next").json()["assignment_id"]
        judged = client.post(f"/v1/campaign-items/{item}/judgement",
                             json={"verdict": "pick", "ranking": ["A"]})
        assert judged.status_code == 200, judged.text
    closed = site.client("olivia").post(f"/v1/campaigns/{campaign_id}/close").json()
    from tests.datasets.test_campaign_service import preference_task_ready

    if not preference_task_ready() or not closed["result_dataset_id"]:
        pytest.skip("no preference dataset was made (identical candidates or no task)")
    result = closed["result_dataset_id"]
    report = site.client("carol").get(f"/v1/datasets/{result}/report").json()
    pseudonym = closed["reviewers"][0]["pseudonym"]
    assert report["lineage"]["campaign_id"] == campaign_id
    assert report["lineage"]["reviewers"] == [{"role": "annotator", "pseudonym": pseudonym}]
    carol = Visitor(site)
    carol.sign_in(site.tokens["carol"])
    review = text(carol.request("GET", f"/datasets/{result}").text)
    assert "Lineage" in review and campaign_id in review and pseudonym in review
    assert f"{pseudonym} (annotator)" in review and " ann " not in review


def test_a_failed_campaign_shows_its_error_and_takes_nothing(states_site: LiveServer) -> None:
    site = states_site
    created = new_campaign(site, "other prompts")
    campaign_id = created["campaign_id"]
    revoked = site.client("carol").post(
        f"/v1/datasets/{created['dataset_id']}/revoke", json={"reason": "withdrawn"})
    assert revoked.status_code == 200, revoked.text
    failed = run_worker(site, campaign_id)
    assert failed.state == "FAILED" and "dataset.read_for_training" in (failed.error or "")
    olivia = Visitor(site)
    olivia.sign_in(site.tokens["olivia"])
    page = text(olivia.request("GET", f"/campaigns/{campaign_id}").text)
    assert "Generation failed" in page and "dataset.read_for_training" in page
    refused = site.client("olivia").post(f"/v1/campaigns/{campaign_id}/close")
    assert refused.status_code == 403
    assert "campaign.close needs OPEN, campaign is FAILED" in json.dumps(refused.json())
