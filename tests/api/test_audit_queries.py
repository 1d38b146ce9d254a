"""``/v1/audit`` for auditors: prefix and substring filters, order, anchored pages, downloads."""

from __future__ import annotations

import csv
import io
import json

from appliance.api.auditing import Filters
from appliance.audit import TextMatch
from appliance.cli.remote import RemoteClient
from tests.api.conftest import LiveServer


def test_prefix_and_substring_filters(live: LiveServer) -> None:
    live.dataset()
    auditor = live.client("audra")
    found = auditor.get("/v1/audit/events", params={"action_prefix": "dataset.", "limit": 1000})
    actions = {e["action"] for e in found.json()["events"]}
    assert "dataset.ingest" in actions and all(a.startswith("dataset.") for a in actions)
    contains = auditor.get("/v1/audit/events", params={"resource_contains": "ds_", "limit": 1000})
    assert contains.json()["events"]
    assert all("ds_" in e["resource"] for e in contains.json()["events"])
    assert auditor.get("/v1/audit/events", params={"actor_prefix": "audr"}).json()["events"]
    both = auditor.get("/v1/audit/events", params={"action": "a", "action_prefix": "b"})
    assert both.status_code == 400
    assert "at most one of action, action_prefix and action_contains" in both.json()["detail"]
    # the query itself is audited with its filters in the parameters' names
    asked = auditor.get("/v1/audit/events", params={"action": "audit.read", "order": "newest",
                                                     "limit": 2}).json()["events"]
    assert asked[1]["details"]["actor_prefix"] == "audr"  # [0] is this query; the 400 wrote none


def test_newest_first_pages_stay_put_with_up_to_seq(live: LiveServer) -> None:
    live.dataset()
    auditor = live.client("audra")
    first = auditor.get("/v1/audit/events", params={"order": "newest", "limit": 3}).json()
    seqs = [e["seq"] for e in first["events"]]
    assert seqs == sorted(seqs, reverse=True) and first["up_to_seq"] == seqs[0]
    # each request writes its own audit.read event at the front of the log
    second = auditor.get("/v1/audit/events", params={
        "order": "newest", "limit": 3, "offset": first["next_offset"],
        "up_to_seq": first["up_to_seq"]}).json()
    assert [e["seq"] for e in second["events"]] == [seqs[-1] - 1, seqs[-1] - 2, seqs[-1] - 3]
    assert second["up_to_seq"] == first["up_to_seq"]
    oldest = auditor.get("/v1/audit/events", params={"limit": 2}).json()
    assert [e["seq"] for e in oldest["events"]] == [1, 2] and oldest["up_to_seq"] is None


def test_downloads_honour_filters_and_order(live: LiveServer) -> None:
    live.dataset()
    auditor = live.client("audra")
    params = {"format": "jsonl", "action_prefix": "dataset.", "order": "newest"}
    text = auditor.get("/v1/audit/export", params=params).text
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines and all(e["action"].startswith("dataset.") for e in lines)
    assert [e["seq"] for e in lines] == sorted((e["seq"] for e in lines), reverse=True)
    as_csv = auditor.get("/v1/audit/export", params={"format": "csv", "actor": "nobody"})
    assert list(csv.reader(io.StringIO(as_csv.text)))[1:] == []  # the header only
    bad = auditor.get("/v1/audit/export", params={"format": "csv", "order": "sideways"})
    assert bad.status_code == 422


def test_remote_client_is_newest_first_and_speaks_the_filters(live: LiveServer) -> None:
    live.dataset()
    client = RemoteClient(live.url, live.tokens["audra"])
    try:
        events = client.audit_query(Filters(action=TextMatch("dataset.", "prefix")), limit=None)
        assert events and all(e["action"].startswith("dataset.") for e in events)
        assert [e["seq"] for e in events] == sorted((e["seq"] for e in events), reverse=True)
        oldest = client.audit_query(Filters(newest_first=False), limit=2)
        assert [e["seq"] for e in oldest] == [1, 2]
        out = io.StringIO()
        client.audit_export("jsonl", out, Filters(action=TextMatch("ingest", "contains")))
        assert {json.loads(x)["action"] for x in out.getvalue().splitlines()} == {"dataset.ingest"}
    finally:
        client.close()
