"""Review reasons over HTTP: redacted as at ingest, returned with the dataset, hashed in the log."""

from __future__ import annotations

import hashlib

from tests.api.conftest import LiveServer


def test_approve_reason_over_http_is_redacted(live: LiveServer) -> None:
    dataset_id = live.dataset()
    reason = {"reason": "approved after talking to Maria Gonzalez"}
    approved = live.client("carol").post(f"/v1/datasets/{dataset_id}/approve", json=reason)
    assert approved.status_code == 200, approved.text
    kept = "approved after talking to <PERSON>"
    [review] = approved.json()["reviews"]
    digest = hashlib.sha256(kept.encode()).hexdigest()
    assert review["reviewer"] == "carol" and review["decision"] == "approve"
    assert review["reason"] == kept and review["reason_sha256"] == digest
    shown = live.client("audra").get(f"/v1/datasets/{dataset_id}").json()
    assert shown["reviews"] == [review]
    events = live.client("audra").get("/v1/audit/events", params={
        "action": "dataset.approve", "resource": f"dataset:{dataset_id}"}).json()["events"]
    assert [e["details"] for e in events] == [{"reason_given": True, "reason_sha256": digest}]
