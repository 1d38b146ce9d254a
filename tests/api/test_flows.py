"""The main flows over real HTTP: upload, review, audit, users, authentication, errors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.api.conftest import RECORDS, LiveServer

PROBLEM = "application/problem+json"


def events(live: LiveServer, **filters: Any) -> list[dict[str, Any]]:
    response = live.client("audra").get("/v1/audit/events", params={"limit": 1000, **filters})
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def test_health_readiness_and_metrics(live: LiveServer) -> None:
    anonymous = live.client()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    # No scrape token configured: no metrics on the API port (tests/api/test_metrics_endpoint.py).
    refused = anonymous.get("/metrics")
    assert refused.status_code == 401 and "none is configured" in refused.json()["detail"]


def test_upload_review_and_read_flow(live: LiveServer) -> None:
    created = live.upload("olivia")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["rows"] == len(RECORDS) and body["state"] == "PENDING_REVIEW"
    dataset_id = body["dataset_id"]

    listed = live.client("olivia").get("/v1/datasets", params={"state": "PENDING_REVIEW"})
    assert dataset_id in [d["dataset_id"] for d in listed.json()]
    shown = live.client("olivia").get(f"/v1/datasets/{dataset_id}").json()
    assert (shown["uploaded_by"], shown["row_count"]) == ("olivia", len(RECORDS))

    report = live.client("carol").get(f"/v1/datasets/{dataset_id}/report")
    assert report.status_code == 200 and report.json()["cleaning"]["records_in"] == len(RECORDS)
    sample = live.client("carol").get(f"/v1/datasets/{dataset_id}/sample", params={"n": 3})
    assert [r["id"] for r in sample.json()["records"]] == [0, 1, 2]

    approved = live.client("carol").post(f"/v1/datasets/{dataset_id}/approve",
                                          json={"reason": "looks clean"})
    assert approved.status_code == 200 and approved.json()["state"] == "APPROVED"
    assert approved.json()["approvals"] == ["carol"]

    trail = [(e["actor"], e["action"], e["decision"])
             for e in events(live, resource=f"dataset:{dataset_id}")]
    assert ("olivia", "dataset.ingest", "allow") in trail
    assert ("carol", "dataset.read_sample", "allow") in trail
    assert ("carol", "dataset.approve", "allow") in trail


def test_self_approval_is_403_with_reasons_and_audited(live: LiveServer) -> None:
    dataset_id = live.dataset("olivia")
    response = live.client("olivia").post(f"/v1/datasets/{dataset_id}/approve", json={})
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["title"] == "Access denied" and problem["status"] == 403
    assert problem["instance"] == f"/v1/datasets/{dataset_id}/approve"
    assert any(r.startswith("role:") for r in problem["reasons"])
    denied = events(live, actor="olivia", action="dataset.approve", decision="deny")
    assert denied and denied[-1]["reasons"] == problem["reasons"]


def test_state_conflict_is_409(live: LiveServer) -> None:
    dataset_id = live.dataset()
    assert live.client("carol").post(f"/v1/datasets/{dataset_id}/reject",
                                     json={"reason": "PII left"}).status_code == 200
    again = live.client("dmitri").post(f"/v1/datasets/{dataset_id}/reject", json={})
    assert again.status_code in (403, 409) and again.headers["content-type"] == PROBLEM


def test_unknown_dataset_is_404(live: LiveServer) -> None:
    response = live.client("carol").get("/v1/datasets/ds_000000000000")
    assert response.status_code == 404 and response.json()["title"] == "Not found"


@pytest.mark.parametrize("header", [None, "Bearer apl_not-a-real-token", "Bearer x", "Basic Zm9v"])
def test_no_or_bad_token_is_401_and_audited(live: LiveServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = live.client().get("/v1/datasets", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    last = events(live, action="auth.login")[-1]
    assert (last["actor"], last["decision"], last["resource"]) == ("anonymous", "deny",
                                                                  "channel:api")
    assert "apl_not-a-real-token" not in json.dumps(last)  # never the token itself


def test_failed_attempts_are_rate_limited_per_client(live: LiveServer) -> None:
    from appliance.api.ratelimit import FailureLimiter

    shared = live.app.state.limiter
    live.app.state.limiter = FailureLimiter("3/minute", "100/hour")
    try:
        bad = [{"Authorization": f"Bearer apl_wrong{i}"} for i in range(5)]
        codes = [live.client().get("/v1/datasets", headers=h).status_code for h in bad]
        assert codes == [401, 401, 401, 429, 429]
        refused = live.client().get("/v1/datasets", headers=bad[0])
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    finally:
        live.app.state.limiter = shared
    throttles = events(live, action="auth.throttle")
    assert len(throttles) == 1 and throttles[0]["resource"] == "client:127.0.0.1"


def test_revoked_user_token_stops_working(live: LiveServer) -> None:
    admin = live.client("adam")
    created = admin.post("/v1/users", json={"name": "temp.user", "role": "auditor"})
    assert created.status_code == 201
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert live.client().get("/v1/datasets", headers=headers).status_code == 200
    assert admin.post("/v1/users/temp.user/revoke").json()["revoked_at"]
    assert live.client().get("/v1/datasets", headers=headers).status_code == 401
    names = [u["name"] for u in admin.get("/v1/users").json()]
    assert "temp.user" in names and "token" not in json.dumps(admin.get("/v1/users").json())
    duplicate = admin.post("/v1/users", json={"name": "temp.user", "role": "auditor"})
    assert duplicate.status_code == 409


def test_rotated_token_replaces_the_old_one(live: LiveServer) -> None:
    admin = live.client("adam")
    token = admin.post("/v1/users", json={"name": "rota", "role": "auditor"}).json()["token"]
    new = admin.post("/v1/users/rota/token").json()["token"]
    assert live.client().get("/v1/datasets",
                             headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert live.client().get("/v1/datasets",
                             headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_audit_query_filters_and_paging(live: LiveServer) -> None:
    live.dataset()
    auditor = live.client("audra")
    first = auditor.get("/v1/audit/events", params={"limit": 2}).json()
    assert len(first["events"]) == 2 and first["next_offset"] == 2
    second = auditor.get("/v1/audit/events", params={"limit": 2, "offset": 2}).json()
    assert first["events"][-1]["seq"] < second["events"][0]["seq"]
    allowed = auditor.get("/v1/audit/events", params={"decision": "allow", "limit": 1000})
    assert {e["decision"] for e in allowed.json()["events"]} == {"allow"}
    future = auditor.get("/v1/audit/events", params={"since": "2999-01-01T00:00:00+00:00"})
    assert future.json() == {"events": [], "limit": 100, "offset": 0, "next_offset": None,
                             "up_to_seq": None}
    bad = auditor.get("/v1/audit/events", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.headers["content-type"] == PROBLEM
    assert "not an ISO 8601 time" in bad.json()["detail"]


def test_audit_verify_and_export(live: LiveServer) -> None:
    auditor = live.client("audra")
    verified = auditor.get("/v1/audit/verify").json()
    assert verified["ok"] is True and verified["events"] >= 1
    exported = auditor.get("/v1/audit/export", params={"format": "jsonl"})
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines and all("hash" in e for e in lines)
    as_csv = auditor.get("/v1/audit/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) >= len(lines) and "actor" in rows[0]
    assert live.client("olivia").get("/v1/audit/export").status_code == 403


def test_openapi_documents_every_route_and_error(live: LiveServer) -> None:
    schema = live.client().get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/datasets", "/v1/datasets/{dataset_id}/approve", "/v1/audit/events",
                 "/v1/audit/export", "/v1/users", "/healthz", "/readyz", "/metrics"):
        assert path in paths
    upload = paths["/v1/datasets"]["post"]
    assert "application/x-ndjson" in upload["requestBody"]["content"]
    assert {"401", "403", "413"} <= set(upload["responses"])
    assert upload["responses"]["403"]["content"][PROBLEM]["schema"] == {
        "$ref": "#/components/schemas/Problem"}
    assert "Problem" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert not any(p.startswith(("/signin", "/audit", "/datasets")) for p in paths)


def test_no_swagger_ui_or_external_assets(live: LiveServer) -> None:
    assert live.client().get("/docs").status_code == 404
    page = live.client().get("/signin").text
    assert "http://" not in page and "https://" not in page


def test_audit_filters_that_are_free_text_are_recorded_by_hash(live: LiveServer) -> None:
    response = live.client("audra").get("/v1/audit/events", params={"actor": "no such user!"})
    assert response.status_code == 200 and response.json()["events"] == []
    searched = events(live, action="audit.read")[-2]  # [-1] is the events() query itself
    assert searched["details"]["actor"].startswith("sha256:")


def test_unknown_query_parameters_are_refused(live: LiveServer) -> None:
    response = live.client("olivia").get("/v1/datasets", params={"stat": "APPROVED"})
    assert response.status_code == 422 and "stat" in response.json()["detail"]


def test_single_valued_query_parameters_given_twice_are_refused(live: LiveServer) -> None:
    response = live.client("audra").get("/v1/audit/events?actor=a&actor=b")
    assert response.status_code == 422 and "given more than once" in response.json()["detail"]
