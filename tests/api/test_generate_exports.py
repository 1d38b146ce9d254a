"""A generative model trained over HTTP (a real worker process, a tiny Llama): it answers over
the API and the CLI, and its export requests say what the bundle holds (adapter or merged) and
carry the memorization scan the approver sees, through the API, the client and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from appliance.cli.main import main
from appliance.cli.remote import RemoteClient
from tests.api.conftest import LiveServer, jsonl, start_training_server, stop_server
from tests.training.tiny_models import make_tiny_llama

pytestmark = pytest.mark.slow

QA = [("what is the weather today", "it is sunny today"),
      ("tell me about tomorrow", "tomorrow is rainy"),
      ("how do i check my balance", "open the app and check the balance")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    root = tmp_path_factory.mktemp("generate-exports")
    live = start_training_server(root, "tiny-llama", make_tiny_llama)
    try:
        records = [{"prompt": f"{q} {i}", "response": a} for i in range(8) for q, a in QA]
        uploaded = live.client("olivia").post(
            "/v1/datasets", content=jsonl(records),
            headers={"Content-Type": "application/x-ndjson"},
            params={"name": "qa.jsonl", "task": "sft", "prompt_field": "prompt",
                    "response_field": "response", "redact": "false"})
        assert uploaded.status_code == 201, uploaded.text
        dataset_id = uploaded.json()["dataset_id"]
        assert live.client("carol").post(f"/v1/datasets/{dataset_id}/approve",
                                         json={"reason": "ok"}).status_code == 200
        created = live.client("olivia").post("/v1/jobs", json={
            "task": "sft", "dataset_ids": [dataset_id], "base_model": "tiny-llama",
            "epochs": 1, "batch_size": 8, "eval_generations": 4, "compare_base": False,
            "memorization_records": 4})
        assert created.status_code == 201, created.text
        job_id = created.json()["job_id"]
        deadline = time.monotonic() + 600
        while (job := live.client("olivia").get(f"/v1/jobs/{job_id}").json())["state"] in (
                "QUEUED", "RUNNING"):
            assert time.monotonic() < deadline, job
            time.sleep(1)
        assert job["state"] == "SUCCEEDED", job["error"]
        yield live, job["model_id"]
    finally:
        stop_server(live)
        from appliance.training.models import forget_predictors

        forget_predictors()


def cli(live: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str, remote: bool) -> tuple[int, str, str]:
    monkeypatch.setenv("APPLIANCE_TOKEN", live.tokens["olivia"])
    if remote:
        monkeypatch.setenv("APPLIANCE_URL", live.url)
    else:
        monkeypatch.delenv("APPLIANCE_URL", raising=False)
    code = main(["--home", str(live.home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_trained_model_answers_over_http_and_the_cli(
        trained: tuple[LiveServer, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    live, model_id = trained
    answered = live.client("olivia").post(f"/v1/models/{model_id}/generate", json={
        "prompts": ["what is the weather today 3", "tell me about tomorrow 5"],
        "max_new_tokens": 8})
    assert answered.status_code == 200, answered.text
    texts = [a["text"] for a in answered.json()["answers"]]
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    for remote in (False, True):
        code, out, err = cli(live, capsys, monkeypatch, "model", "generate", model_id,
                             "--prompt", "what is the weather today 3", "--max-new-tokens",
                             "8", remote=remote)
        assert code == 0, err
        assert json.loads(out) == {"text": texts[0]}  # greedy: the same answer everywhere


def test_export_requests_name_their_contents_and_carry_the_scan(
        trained: tuple[LiveServer, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    live, model_id = trained
    olivia = live.client("olivia")
    adapter = olivia.post(f"/v1/models/{model_id}/exports")
    assert adapter.status_code == 201, adapter.text
    assert adapter.json()["contents"] == "adapter"
    scan = adapter.json()["memorization"]
    assert isinstance(scan["flagged"], bool) and isinstance(scan["reasons"], list)
    merged = olivia.post(f"/v1/models/{model_id}/exports", json={"merged": True})
    assert merged.status_code == 201 and merged.json()["contents"] == "merged"
    shown = live.client("carol").get(f"/v1/exports/{merged.json()['export_id']}").json()
    assert shown["contents"] == "merged" and shown["memorization"] == scan  # the approver's view
    for body in ({"merged": "please"}, {"merged": True, "format": "gguf"}):
        assert olivia.post(f"/v1/models/{model_id}/exports", json=body).status_code == 422

    client = RemoteClient(live.url, live.tokens["olivia"])
    try:
        info = client.request_export(model_id, merged=True)
        assert info.contents == "merged" and info.memorization == scan
        assert client.show_export(info.export_id).contents == "merged"
    finally:
        client.close()

    for remote in (False, True):
        code, out, err = cli(live, capsys, monkeypatch, "export", "request", model_id,
                             "--merged", remote=remote)
        assert code == 0, err
        assert "contents merged" in out and "memorization " in out
        export_id = out.split()[1]
        code, out, err = cli(live, capsys, monkeypatch, "export", "show", export_id,
                             remote=remote)
        assert code == 0, err
        fields = dict(line.split(None, 1) for line in out.splitlines())
        assert fields["contents"] == "merged"
        assert fields["memorization"].startswith(("flagged", "not flagged"))
    code, out, _ = cli(live, capsys, monkeypatch, "export", "list", remote=True)
    assert code == 0
    rows = [line.split() for line in out.splitlines()[2:]]
    assert {row[2] for row in rows} == {"adapter", "merged"}
    assert {row[4] for row in rows} <= {"ok", "FLAGGED"}
