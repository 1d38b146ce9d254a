"""Jobs, models and exports over HTTP: train a tiny model end to end, then export it.

A real worker process trains a tiny BERT (built from a config, seconds to train) on an approved
dataset; the test follows it through the server-sent log stream, predicts with the model, and
takes an export through request, two-person approval, download and verification.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer, start_training_server, stop_server

pytestmark = pytest.mark.slow

INTENTS = {"card": ["i lost my card", "my card was stolen", "card blocked help"],
           "balance": ["what is my balance", "check my balance please", "balance not updated"],
           "transfer": ["my transfer is pending", "transfer failed", "cancel my transfer"]}


def intent_records(per_label: int = 30) -> list[dict[str, Any]]:
    rng = random.Random(0)
    out = [{"text": f"{rng.choice(p)} {i}", "label": label}
           for label, p in INTENTS.items() for i in range(per_label)]
    rng.shuffle(out)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server whose home has the tiny base registered and one finished job."""
    live = start_training_server(tmp_path_factory.mktemp("training"))
    try:
        dataset_id = live.dataset("olivia", intent_records())
        approved = live.client("carol").post(f"/v1/datasets/{dataset_id}/approve", json={})
        assert approved.status_code == 200, approved.text
        created = live.client("olivia").post("/v1/jobs", json={
            "task": "classification", "dataset_ids": [dataset_id], "base_model": "tiny-bert",
            "epochs": 2, "batch_size": 16, "checkpoint_interval_s": 3600})
        assert created.status_code == 201, created.text
        job = created.json()
        events = follow(live, job["job_id"])
        yield {"live": live, "job": job, "events": events, "dataset_id": dataset_id}
    finally:
        stop_server(live)


def follow(live: LiveServer, job_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Read the job's server-sent events until ``end``."""
    events: list[tuple[str, dict[str, Any]]] = []
    headers = {"Authorization": f"Bearer {live.tokens['olivia']}"}
    with httpx.stream("GET", f"{live.url}/v1/jobs/{job_id}/logs", headers=headers,
                      timeout=httpx.Timeout(30, read=600), trust_env=False) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name == "end":
                    break
    return events


def test_job_runs_to_a_model_and_streams_its_progress(trained: dict[str, Any]) -> None:
    live, job, events = trained["live"], trained["job"], trained["events"]
    kinds = {name for name, _ in events}
    assert {"log", "progress", "end"} <= kinds
    end = events[-1][1]
    assert end["state"] == "SUCCEEDED", events[-5:]
    assert any("queued by olivia" in e["line"] for name, e in events if name == "log")
    shown = live.client("audra").get(f"/v1/jobs/{job['job_id']}").json()  # auditors read jobs
    assert shown["state"] == "SUCCEEDED" and shown["model_id"] == end["model_id"]
    metrics = live.client("olivia").get(f"/v1/jobs/{job['job_id']}/metrics").json()
    assert 0 <= metrics["metrics"]["test"]["accuracy"] <= 1
    opened = [e for e in live.client("audra").get(
        "/v1/audit/events", params={"action": "job.read", "actor": "olivia", "limit": 1000}
    ).json()["events"] if e["resource"] == f"job:{job['job_id']}"]
    assert len(opened) == 2  # the stream was audited once, not once per poll; plus /metrics


def test_models_list_show_and_predict(trained: dict[str, Any]) -> None:
    live = trained["live"]
    model_id = trained["events"][-1][1]["model_id"]
    assert model_id in [m["model_id"] for m in live.client("olivia").get("/v1/models").json()]
    card = live.client("carol").get(f"/v1/models/{model_id}").json()["card"]
    assert card["datasets"][0]["dataset_id"] == trained["dataset_id"]
    assert card["metrics"]["test"]["confusion_matrix"]["labels"] == sorted(INTENTS)
    predicted = live.client("olivia").post(f"/v1/models/{model_id}/predict",
                                           json={"texts": ["i lost my card 7", "balance"]})
    assert predicted.status_code == 200, predicted.text
    assert [p["label"] in INTENTS for p in predicted.json()["predictions"]] == [True, True]
    assert live.client("audra").post(f"/v1/models/{model_id}/predict",
                                     json={"texts": ["x"]}).status_code == 403


def test_export_request_approve_download_verify(trained: dict[str, Any]) -> None:
    live = trained["live"]
    model_id = trained["events"][-1][1]["model_id"]
    requested = live.client("olivia").post(f"/v1/models/{model_id}/exports")
    assert requested.status_code == 201, requested.text
    export_id = requested.json()["export_id"]
    assert requested.json()["state"] == "PENDING_REVIEW"
    assert live.client("olivia").get(f"/v1/exports/{export_id}/bundle").status_code == 403
    own = live.client("olivia").post(f"/v1/exports/{export_id}/approve", json={"reason": "me"})
    assert own.status_code == 403
    approved = live.client("carol").post(f"/v1/exports/{export_id}/approve",
                                         json={"reason": "card reviewed"})
    assert approved.status_code == 200 and approved.json()["approved_by"] == "carol"
    assert live.client("carol").get(f"/v1/exports/{export_id}/bundle").status_code == 403
    bundle = live.client("olivia").get(f"/v1/exports/{export_id}/bundle")
    assert bundle.status_code == 200
    digest = hashlib.sha256(bundle.content).hexdigest()
    assert digest == bundle.headers["x-bundle-sha256"] == approved.json()["bundle_sha256"]
    assert list((live.home / "tmp").iterdir()) == []  # the download's temp copy is gone

    verified = live.client("audra").post("/v1/exports/verify", content=bundle.content)
    assert verified.status_code == 200 and verified.json()["ok"] is True
    assert verified.json()["export_id"] == export_id
    assert (verified.json()["requested_by"], verified.json()["approved_by"]) == ("olivia", "carol")
    assert verified.json()["reviewed_bundle_sha256"] == requested.json()["bundle_sha256"]
    tampered = bytearray(bundle.content)
    tampered[len(tampered) // 2] ^= 1
    failed = live.client("audra").post("/v1/exports/verify", content=bytes(tampered))
    assert failed.status_code == 200 and failed.json()["ok"] is False
    listed = live.client("carol").get("/v1/exports").json()
    assert export_id in [e["export_id"] for e in listed]


def test_job_errors_and_roles(trained: dict[str, Any]) -> None:
    live, job = trained["live"], trained["job"]
    finished = live.client("olivia").post(f"/v1/jobs/{job['job_id']}/cancel")
    assert finished.status_code == 409
    compliance = live.client("carol").post("/v1/jobs", json={
        "task": "classification", "dataset_ids": [trained["dataset_id"]]})
    assert compliance.status_code == 403
    assert any("compliance never runs jobs" in r for r in compliance.json()["reasons"])
    pending = live.dataset("olivia")
    refused = live.client("olivia").post("/v1/jobs", json={
        "task": "classification", "dataset_ids": [pending], "base_model": "tiny-bert"})
    assert refused.status_code == 409 and "not APPROVED" in refused.json()["detail"]
    invalid = live.client("olivia").post("/v1/jobs", json={"task": "classification",
                                                           "dataset_ids": []})
    assert invalid.status_code == 422
    assert live.client("olivia").get("/v1/jobs/job_000000000000").status_code == 404


def test_console_training_pages(trained: dict[str, Any], tmp_path: Path) -> None:
    from tests.web.test_console_http import Visitor

    live = trained["live"]
    model_id = trained["events"][-1][1]["model_id"]
    operator = Visitor(live)
    operator.sign_in(live.tokens["olivia"])
    for path in ("/jobs", f"/jobs/{trained['job']['job_id']}", "/models", f"/models/{model_id}",
                 "/exports"):
        page = operator.request("GET", path)
        assert page.status_code == 200, (path, page.text[:300])
    model_page = operator.request("GET", f"/models/{model_id}").text
    assert "table class=\"data confusion\"" in model_page and "heat-" in model_page
    job_page = operator.request("GET", f"/jobs/{trained['job']['job_id']}").text
    assert "polyline" in job_page and "SUCCEEDED" in job_page


def test_remote_client_training_methods(trained: dict[str, Any], tmp_path: Path) -> None:
    from appliance.cli.remote import RemoteClient
    from appliance.errors import AccessDenied, Conflict

    live, job = trained["live"], trained["job"]
    operator = RemoteClient(live.url, live.tokens["olivia"])
    compliance = RemoteClient(live.url, live.tokens["carol"])
    try:
        assert operator.get_job(job["job_id"]).state == "SUCCEEDED"
        assert job["job_id"] in [j.job_id for j in operator.list_jobs("succeeded")]
        events = list(operator.follow_job(job["job_id"], follow=False))
        assert events[-1][0] == "end" and any(name == "log" for name, _ in events)
        model_id = operator.get_job(job["job_id"]).model_id
        assert model_id is not None
        assert operator.show_model(model_id).card["model_id"] == model_id
        assert len(operator.predict(model_id, ["my card was stolen 3"])) == 1
        requested = operator.request_export(model_id)
        with pytest.raises(AccessDenied):
            operator.approve_export(requested.export_id, "mine")
        assert compliance.approve_export(requested.export_id, "ok").state == "APPROVED"
        target = tmp_path / "bundle.tar"
        operator.download_export(requested.export_id, target)
        with pytest.raises(Conflict):
            operator.download_export(requested.export_id, target)  # never overwrites
        assert operator.verify_bundle(target)["export_id"] == requested.export_id
    finally:
        operator.close()
        compliance.close()
