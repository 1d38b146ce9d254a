"""Uploads: streamed, size-limited, and all-or-nothing (invariant 6), also when concurrent."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.conftest import RECORDS, LiveServer, jsonl

PROBLEM = "application/problem+json"


@pytest.fixture
def small_limit(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> int:
    limit = 4096
    monkeypatch.setattr(live.app.state.pool.base.settings, "max_upload_bytes", limit)
    return limit


def assert_nothing_stored(live: LiveServer, before: tuple[int, int, list[str]]) -> None:
    assert live.stored() == before
    assert list((live.home / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("body", "params", "status", "detail"),
    [
        (b'{"text": "a", "label": "x"}\n{"text": \n', {}, 400, "bad.jsonl line 2: invalid JSON"),
        (b'{"text": "a", "label": "x"}\n[1, 2]\n', {}, 400, "JSON object"),
        (b'{"text": "a", "label": "x"}\n\xff\xfe\n', {}, 400, "UTF-8"),
        (b"", {}, 400, "no records"),
        (b'{"text": "", "label": "x"}\n', {}, 400,
         "no records left: 1 of 1 records dropped: 1 missing 'text' (text field)"),
        (jsonl(RECORDS), {"spec": "{not json"}, 400, "spec is not valid JSON"),
        (jsonl(RECORDS), {"spec": "[1]"}, 400, "JSON object"),
        (jsonl(RECORDS), {"task": "sft"}, 400, "prompt-field"),
        (jsonl(RECORDS), {"name": "records.bin", "format": None}, 400, "cannot tell the format"),
        (jsonl(RECORDS), {"name": ""}, 422, "name"),
        (jsonl(RECORDS), {"classification": "secret"}, 422, "classification"),
    ],
)
def test_malformed_upload_is_4xx_and_stores_nothing(
    live: LiveServer, body: bytes, params: dict[str, Any], status: int, detail: str
) -> None:
    before = live.stored()
    query = {"name": "bad.jsonl", "task": "classification", "text_field": "text",
             "label_field": "label", "redact": "false", **params}
    response = live.client("olivia").post(
        "/v1/datasets", params={k: v for k, v in query.items() if v is not None}, content=body,
        headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert detail in response.json()["detail"]
    assert_nothing_stored(live, before)


def test_csv_upload(live: LiveServer) -> None:
    body = b"id,text,label\n1,first ticket,billing\n2,second ticket,shipping\n"
    response = live.client("olivia").post(
        "/v1/datasets", params={"name": "t.csv", "text_field": "text", "label_field": "label",
                                "redact": "false"},
        content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 2
    shown = live.client("olivia").get(f"/v1/datasets/{response.json()['dataset_id']}").json()
    assert shown["source_format"] == "csv" and shown["task"] == "classification"


def test_declared_oversize_is_refused_before_reading(live: LiveServer, small_limit: int) -> None:
    before = live.stored()
    body = jsonl(RECORDS * 20)
    assert len(body) > small_limit
    response = live.upload("olivia", body)
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM
    assert f"limit of {small_limit} bytes" in response.json()["detail"]
    assert_nothing_stored(live, before)


def test_streamed_oversize_without_length_is_refused(live: LiveServer, small_limit: int) -> None:
    """A chunked body has no Content-Length: the limit is enforced while streaming."""
    before = live.stored()
    line = json.dumps({"text": "a ticket about an invoice", "label": "billing"}).encode() + b"\n"

    def chunks() -> Iterator[bytes]:
        for i in range(200):
            yield line.replace(b"invoice", b"invoice %d" % i)

    try:
        response = live.client("olivia").post(
            "/v1/datasets", params={"name": "big.jsonl", "text_field": "text",
                                    "label_field": "label", "redact": "false"},
            content=chunks(), headers={"Content-Type": "application/x-ndjson"})
    except httpx.TransportError:
        response = None  # the server may close the connection before reading everything
    if response is not None:
        assert response.status_code == 413, response.text
        assert "nothing was stored" in response.json()["detail"]
    assert_nothing_stored(live, before)


def test_record_over_record_limit_is_413(live: LiveServer) -> None:
    before = live.stored()
    huge = b'{"text": "' + b"z" * 1_000_100 + b'", "label": "x"}\n'
    response = live.upload("olivia", huge)
    assert response.status_code == 413 and "record is over the size limit" in response.text
    assert_nothing_stored(live, before)


def ingest_events(live: LiveServer) -> int:
    """How many ``dataset.ingest`` decisions the audit log holds."""
    return sum(path.read_bytes().count(b'"action":"dataset.ingest"')
               for path in (live.home / "audit").glob("segment-*.jsonl"))


def test_client_disconnect_mid_upload_stores_nothing(live: LiveServer) -> None:
    before, ingests_before = live.stored(), ingest_events(live)
    host, port = live.url.removeprefix("http://").split(":")
    body = jsonl(RECORDS)
    request = (f"POST /v1/datasets?name=cut.jsonl&task=classification&text_field=text"
               f"&label_field=label&redact=false HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Bearer {live.tokens['olivia']}\r\n"
               f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body) * 2}\r\n\r\n")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request.encode() + body)  # half of what was announced, then hang up
    # Wait (bounded) until the server has handled the cut-off upload to its end, cleanup
    # included: its ingest was authorized (the audit event comes before the body is read) and
    # no request task of uvicorn's is left running. Checking the files any earlier could pass
    # before the handler had even created its scratch file.
    state = live.server.server_state
    deadline = time.monotonic() + 30
    while ingest_events(live) == ingests_before or state.tasks:
        assert time.monotonic() < deadline, "the server did not finish the cut-off upload"
        time.sleep(0.02)
    assert_nothing_stored(live, before)


def test_concurrent_uploads_are_independent_and_complete(live: LiveServer) -> None:
    before_rows, before_objects, _ = live.stored()
    good = [jsonl([{"text": f"upload {n} ticket {i}", "label": "a"} for i in range(40 + n)])
            for n in range(6)]
    bad = [b'{"text": "fine", "label": "a"}\n{"broken": \n', b""]

    def send(body: bytes) -> httpx.Response:
        with httpx.Client(base_url=live.url, timeout=120, trust_env=False) as client:
            return client.post(
                "/v1/datasets", content=body,
                params={"name": "c.jsonl", "text_field": "text", "label_field": "label",
                        "redact": "false"},
                headers={"Authorization": f"Bearer {live.tokens['oscar']}"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, good + bad))
    assert [r.status_code for r in responses] == [201] * len(good) + [400] * len(bad)
    assert [r.json()["rows"] for r in responses[:len(good)]] == [40 + n for n in range(6)]
    ids = {r.json()["dataset_id"] for r in responses[:len(good)]}
    assert len(ids) == len(good)
    rows, objects, _ = live.stored()
    assert rows == before_rows + len(good)
    per_dataset = 3  # records, report, pseudonym key
    assert objects == before_objects + per_dataset * len(good)
    assert list((live.home / "tmp").iterdir()) == []
