"""/metrics: refused without the scrape token on the API port, served on the loopback scrape
port, in the Prometheus text format (parsed with prometheus_client's own parser)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from appliance.cli.main import main
from tests.api.conftest import LiveServer, free_port, make_home, start_server, stop_server


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, int]]:
    home, tokens = make_home(tmp_path_factory.mktemp("metrics"))
    capture = pytest.MonkeyPatch()
    scrape_token = _generate_token(home, capture)
    port = free_port()
    server = start_server(home, metrics_port=port)
    server.tokens = tokens
    yield server, scrape_token, port
    stop_server(server)


def _generate_token(home: Path, _: pytest.MonkeyPatch) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--home", str(home), "metrics-token"]) == 0
    lines = out.getvalue().splitlines()
    assert "shown once" in lines[0]
    return lines[1]


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {f.name: [(s.labels, s.value) for s in f.samples]
            for f in text_string_to_metric_families(text)}


def test_anonymous_metrics_are_refused_on_the_api_port(scraped: tuple[LiveServer, str, int]
                                                       ) -> None:
    live, _, _ = scraped
    response = live.client().get("/metrics")
    assert response.status_code == 401
    assert "no scrape token given" in response.json()["detail"]
    user_token = live.client("audra").get("/metrics")  # a user's API token is not the scrape token
    assert user_token.status_code == 401 and "wrong scrape token" in user_token.json()["detail"]
    assert "appliance_http_requests" not in response.text + user_token.text


def test_metrics_with_the_scrape_token_parse(scraped: tuple[LiveServer, str, int]) -> None:
    live, token, _ = scraped
    live.dataset()
    response = live.client().get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = _families(response.text)
    requests = families["appliance_http_requests"]
    assert ({"method": "POST", "route": "/v1/datasets", "status": "201"}, 1.0) in requests
    assert families["appliance_datasets"] == [({"state": "PENDING_REVIEW"}, 1.0)]
    buckets = [labels for labels, _ in families["appliance_http_request_duration_seconds"]
               if "le" in labels]
    assert {"method": "POST", "route": "/v1/datasets", "le": "+Inf"} in buckets
    assert families["appliance_audit_appends"][0][1] >= 1
    assert not re.search(r"ds_[0-9a-f]{12}", response.text)  # route templates, never ids


def test_the_scrape_port_serves_metrics_on_loopback_without_a_token(
        scraped: tuple[LiveServer, str, int]) -> None:
    live, _, port = scraped
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert "appliance_jobs" in _families(response.text) or "appliance_datasets" in _families(
        response.text)
    assert "appliance_http_requests" in _families(response.text)


def test_refused_scrapes_are_audited(scraped: tuple[LiveServer, str, int]) -> None:
    live, _, _ = scraped
    live.client().get("/metrics", headers={"Authorization": "Bearer apl_guess"})
    events = [json.loads(line) for segment in sorted((live.home / "audit").glob("segment-*"))
              for line in segment.read_text("utf-8").splitlines()]
    denied = [e for e in events
              if e["action"] == "auth.login" and e["resource"] == "channel:metrics"]
    assert denied and denied[-1]["reasons"] == ["wrong scrape token"]
    assert "apl_guess" not in str(denied)


def test_the_scrape_token_is_stored_only_as_a_hash(scraped: tuple[LiveServer, str, int]) -> None:
    live, token, _ = scraped
    config = (live.home / "config.json").read_text("utf-8")
    assert token not in config
    assert re.search(r'"metrics_token_hash": "[0-9a-f]{64}"', config)
