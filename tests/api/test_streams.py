"""SSE framing (sse-starlette) keeps the event names and ids the CLI and the console read."""

from __future__ import annotations

from appliance.api.streams import KEEPALIVE_S, event_response, job_events, sse


def test_a_log_event_carries_its_seq_as_the_event_id() -> None:
    framed = sse("log", {"seq": 7, "line": "step 1"}, 7).encode()
    assert framed == b'id: 7\nevent: log\ndata: {"line": "step 1", "seq": 7}\n\n'


def test_events_without_an_id_have_none() -> None:
    assert sse("end", {"job_id": "job_1"}).encode() == b'event: end\ndata: {"job_id": "job_1"}\n\n'


def test_the_response_keeps_proxies_from_buffering_or_caching() -> None:
    response = event_response(job_events(None, "job_1", [], None))  # type: ignore[arg-type]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.ping_interval == KEEPALIVE_S
