"""Generation over HTTP: batches and server-sent event streams from a real server on loopback.

Two bases are registered: a tiny Llama trained to answer with an e-mail address, phone and card
number (the guard's adversary), and an untrained tiny Llama that rambles until max_new_tokens
(for a client that goes away mid-answer). Everything is real: policy, audit log, the analyzer,
transformers' streamer on its thread, sse-starlette's disconnect handling.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import LiveServer, free_port, make_home, start_server, stop_server
from tests.training.parrot_model import PII_FRAGMENTS, make_parrot_llama, make_rambler_llama

REDACTED = "Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>, card <CREDIT_CARD>. Thanks!"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from appliance.context import open_context
    from appliance.training import registry

    root = tmp_path_factory.mktemp("generate")
    home, tokens = make_home(root)
    ctx = open_context(home)
    try:
        for name, path in (("parrot", make_parrot_llama(root / "parrot")),
                           ("rambler", make_rambler_llama(root / "rambler"))):
            registry._insert(ctx, name, path, registry.directory_sha256(path))
    finally:
        ctx.close()
    port = free_port()
    server = start_server(home, metrics_port=port)
    server.tokens = tokens
    server.metrics_url = f"http://127.0.0.1:{port}/metrics"  # type: ignore[attr-defined]
    yield server
    stop_server(server)
    from appliance.training.models import forget_predictors

    forget_predictors()


def audit(live: LiveServer, action: str) -> list[Any]:
    from appliance.context import open_context

    ctx = open_context(live.home)
    try:
        return list(ctx.audit.query(action=action, limit=1000))
    finally:
        ctx.close()


def read_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def stream(live: LiveServer, who: str, model: str, **body: Any) -> Any:
    return httpx.stream("POST", f"{live.url}/v1/models/{model}/generate/stream", json=body,
                        headers={"Authorization": f"Bearer {live.tokens[who]}"}, timeout=120,
                        trust_env=False)


def counter(live: LiveServer, name: str, **labels: str) -> float:
    text = httpx.get(live.metrics_url, trust_env=False).text  # type: ignore[attr-defined]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_a_batch_is_answered_in_order_and_guarded(live: LiveServer) -> None:
    before = counter(live, "appliance_generation_pii_total", entity="EMAIL_ADDRESS",
                     action="redacted")
    response = live.client("olivia").post("/v1/models/base:parrot/generate", json={
        "prompts": ["hello", [{"role": "system", "content": "be brief"},
                              {"role": "user", "content": "who do i contact"}]],
        "max_new_tokens": 60})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model"] == "base:parrot" and len(data["answers"]) == 2
    for answer in data["answers"]:
        assert answer["text"] == REDACTED and answer["finish"] == "stop"
        assert answer["pii"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}
        assert answer["prompt_tokens"] > 0 and answer["output_tokens"] > 10
    assert counter(live, "appliance_generation_pii_total", entity="EMAIL_ADDRESS",
                   action="redacted") == before + 2
    assert counter(live, "appliance_generated_tokens_total", kind="output") > 20
    assert audit(live, "model.generate.completed")[-1].details["n"] == 2


def test_a_stream_sends_guarded_tokens_then_the_end(live: LiveServer) -> None:
    with stream(live, "olivia", "base:parrot", max_new_tokens=60,
                messages=[{"role": "user", "content": "how do i reach you"}]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        got = list(read_events(response))
    tokens = [d["text"] for name, d in got if name == "token"]
    assert "".join(tokens) == REDACTED
    assert not any(f in json.dumps(got) for f in PII_FRAGMENTS)
    name, end = got[-1]
    assert name == "end" and end["finish"] == "stop" and end["model"] == "base:parrot"
    assert end["pii"]["CREDIT_CARD"] == 1 and end["output_tokens"] > 10
    done = audit(live, "model.generate.completed")[-1]
    assert done.details["finish"] == ("stop",) and done.actor == "olivia"


def test_a_client_that_leaves_stops_the_model(live: LiveServer) -> None:
    with stream(live, "olivia", "base:rambler", max_new_tokens=1024,
                messages=[{"role": "user", "content": "tell me about the weather"}]) as response:
        assert response.status_code == 200
        first = next(read_events(response))
        assert first[0] == "token"
    deadline = time.monotonic() + 60
    while True:
        done = [e for e in audit(live, "model.generate.completed")
                if e.resource == "base_model:rambler"]
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [event] = done
    assert event.details["finish"] == ("disconnected",)
    assert 0 < event.details["output_tokens"][0] < 1024
    assert counter(live, "appliance_generations_total", mode="stream",
                   finish="disconnected") == 1


@pytest.mark.parametrize(("body", "status", "says"), [
    ({"prompts": []}, 422, "prompts"),
    ({"prompts": ["hi"] * 65}, 422, "prompts"),
    ({"prompts": ["hi"], "max_new_tokens": 5000}, 422, "max_new_tokens"),
    ({"prompts": ["hi"], "temperature": -1}, 422, "temperature"),
    ({"prompts": [""]}, 422, "prompts"),
    ({"prompts": ["x" * 20_001]}, 422, "prompts"),
    ({"prompts": ["hi"], "beam_width": 4}, 422, "beam_width"),
    ({"prompts": [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]]},
     400, "the last message must be the user's"),
    ({"prompts": ["   "]}, 400, "the prompt is empty"),
])
def test_limits_are_clear_problems(live: LiveServer, body: dict[str, Any], status: int,
                                   says: str) -> None:
    response = live.client("olivia").post("/v1/models/base:parrot/generate", json=body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in problem["detail"] or any(says in ".".join(e["loc"]) or says in e["msg"]
                                            for e in problem.get("errors") or [])


def test_a_prompt_longer_than_the_model_takes_is_refused_and_the_action_fails(
        live: LiveServer) -> None:
    response = live.client("olivia").post("/v1/models/base:parrot/generate", json={
        "prompts": ["hello " * 300], "max_new_tokens": 10})
    assert response.status_code == 400
    assert "takes at most 256 tokens" in response.json()["detail"]
    failed = audit(live, "model.generate.failed")[-1]
    assert "takes at most 256 tokens" in failed.reasons[0]


@pytest.mark.parametrize(("model", "status", "says"), [
    ("base:nope", 404, "no base model 'nope'"),
    ("mdl_000000000000", 404, "no model mdl_000000000000"),
    ("gpt-4", 400, "is not a model"),
])
def test_unknown_models(live: LiveServer, model: str, status: int, says: str) -> None:
    response = live.client("olivia").post(f"/v1/models/{model}/generate",
                                          json={"prompts": ["hi"]})
    assert response.status_code == status and says in response.json()["detail"]


@pytest.mark.parametrize("who", ["audra", "carol", "adam"])
def test_other_roles_are_denied_before_anything_runs(live: LiveServer, who: str) -> None:
    response = live.client(who).post("/v1/models/base:parrot/generate",
                                     json={"prompts": ["hello"]})
    assert response.status_code == 403
    assert any("may not model.generate" in r for r in response.json()["reasons"])
    with stream(live, who, "base:parrot",
                messages=[{"role": "user", "content": "hello"}]) as refused:
        refused.read()
        assert refused.status_code == 403
    denied = [e for e in audit(live, "model.generate") if e.actor == who]
    assert [e.decision for e in denied] == ["deny", "deny"]
    assert not [e for e in audit(live, "model.generate.completed") if e.actor == who]


def test_the_openapi_document_describes_generation(live: LiveServer) -> None:
    schema = live.client("olivia").get("/openapi.json").json()
    assert "/v1/models/{model}/generate/stream" in schema["paths"]
    components = schema["components"]["schemas"]
    assert {"GenerateRequest", "ChatRequest", "Generation", "ChatMessage"} <= set(components)
    assert "contents" in components["Export"]["properties"]


def test_nothing_generated_is_kept_in_the_home(live: LiveServer) -> None:
    leaked = [p for p in Path(live.home).rglob("*") if p.is_file()
              and any(f.encode() in p.read_bytes() for f in ("john.smith", "who do i contact"))]
    assert leaked == []
