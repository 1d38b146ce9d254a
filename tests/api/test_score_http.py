"""``POST /v1/models/{id}/score`` on a real server: a reward model trained in its home (tiny
BERT, pairs whose chosen answer says "good") scores answers; who may, what is refused, and how."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import LiveServer, start_training_server, stop_server

GOOD = {"prompt": "my card was stolen", "response": "block the card in the app good"}
BAD = {"prompt": "my card was stolen", "response": "block the card in the app bad"}


def train_reward_model(home: Path) -> str:
    """A reward job run to its end in ``home`` (pairs ingested by olivia, approved by carol)."""
    from appliance import datasets as ds
    from appliance.context import open_context
    from appliance.gate import Principal
    from appliance.training import jobs, worker
    from tests.training.test_reward_task import FAST, pair_records

    ctx = open_context(home)
    try:
        data = b"".join(json.dumps(r).encode() + b"\n" for r in pair_records())
        result = ds.ingest_stream(ctx, Principal("olivia", "operator"), io.BytesIO(data),
                                  name="prefs", source_name="prefs.jsonl", fmt="jsonl",
                                  spec=ds.parse_spec({"task": "raw", "redact": False}))
        ds.approve_dataset(ctx, Principal("carol", "compliance"), result.dataset_id, "fine")
        job = jobs.submit_job(ctx, Principal("olivia", "operator"), {
            "task": "reward", "dataset_ids": [result.dataset_id], "base_model": "tiny-bert",
            **FAST})
        done = worker.run_job(ctx, job.job_id)
        assert done is not None and done.state == "SUCCEEDED", done.error
        return str(done.model_id)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    live = start_training_server(tmp_path_factory.mktemp("score-http"))
    try:
        yield live, train_reward_model(live.home)
    finally:
        stop_server(live)
        from appliance.training.models import forget_predictors

        forget_predictors()


def post(live: LiveServer, who: str, model_id: str, body: Any) -> Any:
    return live.client(who).post(f"/v1/models/{model_id}/score", json=body)


def test_scores_come_back_in_order(scored: tuple[LiveServer, str]) -> None:
    live, model_id = scored
    turns = {"prompt": [{"role": "user", "content": "my card was stolen"}],
             "response": "block the card in the app good"}
    response = post(live, "olivia", model_id, {"items": [GOOD, BAD, turns]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == model_id and len(body["scores"]) == 3
    good, bad, again = body["scores"]
    assert good > bad and again == pytest.approx(good, abs=1e-4)


@pytest.mark.parametrize("who", ["carol", "audra", "adam"])
def test_only_operators_score(scored: tuple[LiveServer, str], who: str) -> None:
    live, model_id = scored
    response = post(live, who, model_id, {"items": [GOOD]})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any("may not model.score" in r for r in response.json()["reasons"])
    assert live.client().post(f"/v1/models/{model_id}/score",
                              json={"items": [GOOD]}).status_code == 401


@pytest.mark.parametrize(("body", "status"), [
    ({"items": []}, 422),
    ({"items": [GOOD] * 257}, 422),
    ({"items": [{"prompt": "hi"}]}, 422),
    ({"items": [{**GOOD, "extra": 1}]}, 422),
    ({"items": [{"prompt": "", "response": "x"}]}, 422),
    ({"items": [{"prompt": "hi", "response": "x" * 20_001}]}, 422),
    ({"items": [{"prompt": [{"role": "robot", "content": "x"}], "response": "y"}]}, 422),
    ({"items": [{"prompt": [{"role": "assistant", "content": "x"}], "response": "y"}]}, 400),
    ({"texts": ["hello"]}, 422),
])
def test_malformed_requests_are_refused(scored: tuple[LiveServer, str], body: Any,
                                        status: int) -> None:
    live, model_id = scored
    response = post(live, "olivia", model_id, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unknown_model(scored: tuple[LiveServer, str]) -> None:
    live, _ = scored
    response = post(live, "olivia", "mdl_000000000000", {"items": [GOOD]})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_remote_client_scores_as_the_service_does(scored: tuple[LiveServer, str]) -> None:
    """``RemoteClient.score`` (the CLI against ``APPLIANCE_URL``) returns the local backend's
    scores and raises the local errors, reasons included."""
    from appliance.cli.remote import LocalBackend, RemoteClient
    from appliance.context import open_context
    from appliance.errors import AccessDenied, InvalidInput, NotFound
    from appliance.gate import Principal

    live, model_id = scored
    turns = {"prompt": [{"role": "user", "content": "my card was stolen"}],
             "response": BAD["response"]}
    ctx = open_context(live.home)
    remote = {who: RemoteClient(live.url, live.tokens[who]) for who in ("olivia", "audra")}
    try:
        local = LocalBackend(ctx, Principal("olivia", "operator")).score(model_id, [GOOD, turns])
        scores = remote["olivia"].score(model_id, [GOOD, turns])
        assert scores == pytest.approx(local, abs=1e-5) and scores[0] > scores[1]
        with pytest.raises(AccessDenied) as denied:
            remote["audra"].score(model_id, [GOOD])
        assert denied.value.reasons == ["role: auditor may not model.score"]
        with pytest.raises(NotFound):
            remote["olivia"].score("mdl_000000000000", [GOOD])
        with pytest.raises(InvalidInput):  # 422: the request is malformed
            remote["olivia"].score(model_id, [])
        with pytest.raises(InvalidInput, match="user"):  # 400: the prompt ends with an answer
            remote["olivia"].score(model_id, [{"prompt": [{"role": "assistant", "content": "x"}],
                                               "response": "y"}])
    finally:
        for client in remote.values():
            client.close()
        ctx.close()
