"""Errors in HTTP terms: the advice names the header, a wrong scheme is named, bad JSON is located.

A real server on loopback (tests/api/conftest.py); the CLI against it runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.api.conftest import LiveServer

PROBLEM = "application/problem+json"


def audit_events(live: LiveServer, action: str) -> list[dict[str, Any]]:
    """Straight from the log's segment files, in order (no query layer in between)."""
    found = []
    for segment in sorted((live.home / "audit").glob("segment-*.jsonl")):
        for line in segment.read_text("utf-8").splitlines():
            event = json.loads(line)
            if event["action"] == action:
                found.append(event)
    return found


def login_failure(live: LiveServer, headers: dict[str, str]) -> tuple[dict[str, Any], dict]:
    before = len(audit_events(live, "auth.login"))
    response = live.client().get("/v1/datasets", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    after = audit_events(live, "auth.login")
    assert len(after) == before + 1
    return response.json(), after[-1]


def test_no_token_gives_http_advice_not_cli_advice(live: LiveServer) -> None:
    problem, event = login_failure(live, {})
    assert problem["detail"] == (
        "authentication failed: no token given; send Authorization: Bearer <token>")
    assert "APPLIANCE_TOKEN" not in json.dumps(problem) and "--token" not in json.dumps(problem)
    assert event["reasons"] == ["no token given"]  # the advice is for the caller, not the log


@pytest.mark.parametrize(("scheme", "value"), [("Token", "abc"), ("Basic", "Zm9vOmJhcg==")])
def test_wrong_scheme_is_named(live: LiveServer, scheme: str, value: str) -> None:
    problem, event = login_failure(live, {"Authorization": f"{scheme} {value}"})
    reason = f"Authorization scheme '{scheme}' is not supported; use Bearer"
    assert problem["detail"] == f"authentication failed: {reason}"
    assert event["reasons"] == [reason]
    assert value not in json.dumps(problem) and value not in json.dumps(event)


def test_valid_token_under_another_scheme_is_refused(live: LiveServer) -> None:
    token = live.tokens["olivia"]
    problem, event = login_failure(live, {"Authorization": f"Token {token}"})
    assert "scheme 'Token' is not supported" in problem["detail"]
    assert token not in json.dumps(problem) and token not in json.dumps(event)


@pytest.mark.parametrize("header", ["{token}", "apl_{token}x y", "Bearer"])
def test_a_token_without_scheme_is_never_echoed(live: LiveServer, header: str) -> None:
    """A bare token is not a scheme name: neither the response nor the log repeats it."""
    token = live.tokens["olivia"]
    problem, event = login_failure(live, {"Authorization": header.format(token=token)})
    assert token not in json.dumps(problem) and token not in json.dumps(event)
    assert "Bearer" in problem["detail"]


def test_malformed_json_says_what_and_where(live: LiveServer) -> None:
    dataset = live.dataset()
    compliance = live.client("carol")
    path = f"/v1/datasets/{dataset}/approve"
    response = compliance.post(path, content=b'{"reason": "ok" "more"}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["detail"] == (
        "request body is not valid JSON: Expecting ',' delimiter at line 1 column 17")
    assert problem["errors"] == [{"loc": ["body"], "type": "json_invalid", "line": 1,
                                  "column": 17, "position": 16, "msg": problem["detail"]}]
    response = compliance.post(path, content=b'{\n  "reason": "ok"\n  "more": 1}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "request body is not valid JSON: Expecting ',' delimiter at line 3 column 3")
    # nothing changed: the dataset still waits for review
    shown = compliance.get(f"/v1/datasets/{dataset}").json()
    assert shown["state"] == "PENDING_REVIEW"


def test_well_formed_but_invalid_json_stays_a_422(live: LiveServer) -> None:
    dataset = live.dataset()
    response = live.client("carol").post(f"/v1/datasets/{dataset}/approve",
                                         json={"reason": ["not", "text"]})
    assert response.status_code == 422 and response.json()["title"] == "Request validation failed"


def test_cli_against_the_service_gives_cli_advice(live: LiveServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    done = subprocess.run([sys.executable, "-m", "appliance.cli.main", "dataset", "list"],
                          env={**env, "APPLIANCE_URL": live.url}, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 3
    assert done.stderr == ("error: authentication failed: no token given; set APPLIANCE_TOKEN "
                           "or pass --token\n")
