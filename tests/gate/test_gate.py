"""The gate is the only path to plaintext, and every pass through it is one audit event."""

from __future__ import annotations

import inspect
import io
import json
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.crypto import vault as vault_module
from appliance.errors import AccessDenied, AuditUnavailable
from appliance.gate import open_object

SECRET_TEXT = "the quick brown fox is ticket 4711"


@pytest.fixture
def approved(ctx: Any, people: dict) -> str:
    data = json.dumps({"text": SECRET_TEXT, "label": "x"}).encode() + b"\n"
    result = ds.ingest_stream(
        ctx, people["olivia"], io.BytesIO(data), name="g", source_name="g.jsonl", fmt="jsonl",
        spec=ds.parse_spec({"task": "classification", "text_field": "text",
                            "label_field": "label", "redact": False}))
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    return result.dataset_id


def object_of(ctx: Any, dataset_id: str) -> str:
    row = ctx.conn.execute("SELECT object_id FROM datasets WHERE dataset_id=?",
                           (dataset_id,)).fetchone()
    return str(row["object_id"])


def test_vault_refuses_reads_without_a_gate_grant(ctx: Any, approved: str) -> None:
    object_id = object_of(ctx, approved)
    with pytest.raises(AccessDenied):
        b"".join(ctx.vault.open(object_id, None))
    with pytest.raises(AccessDenied):
        vault_module.AccessGrant(object_id, "0" * 64, _seal=object())
    with pytest.raises(AccessDenied):
        vault_module.AccessGrant(object_id, "0" * 64)  # type: ignore[call-arg]


def test_a_grant_opens_only_its_own_object(ctx: Any, people: dict, approved: str) -> None:
    report_id = ctx.conn.execute("SELECT report_object_id FROM datasets").fetchone()[0]
    grant = vault_module.AccessGrant(report_id, "0" * 64, _seal=vault_module._GATE_SEAL)
    with pytest.raises(AccessDenied):
        b"".join(ctx.vault.open(object_of(ctx, approved), grant))


def test_no_public_vault_method_returns_plaintext_without_a_grant(ctx: Any,
                                                                   approved: str) -> None:
    object_id = object_of(ctx, approved)
    public = {name for name, _ in inspect.getmembers(ctx.vault, callable)
              if not name.startswith("_")}
    readers = {"open", "read_bytes"}
    assert readers <= public
    for name in sorted(public - readers):
        method = getattr(ctx.vault, name)
        params = inspect.signature(method).parameters
        if list(params)[:1] == ["object_id"] and len(params) == 1 and name not in ("shred",):
            result = method(object_id)
            assert SECRET_TEXT.encode() not in repr(result).encode(), name
    for name in readers:
        with pytest.raises(AccessDenied):
            data = getattr(ctx.vault, name)(object_id, None)
            b"".join(data) if not isinstance(data, bytes) else data


def test_each_access_is_exactly_one_audit_event(ctx: Any, people: dict, approved: str) -> None:
    before = len(ctx.audit.query(limit=None))
    records = list(ds.read_records(ctx, people["olivia"], approved, details={"job_id": "j1"}))
    after = ctx.audit.query(limit=None)[before:]
    assert records == [{"label": "x", "text": SECRET_TEXT}]
    assert len(after) == 1
    event = after[0]
    assert (event.actor, event.action, event.purpose, event.decision) == (
        "olivia", "dataset.read_for_training", "training", "allow")
    assert event.details["job_id"] == "j1" and event.policy_hash


def test_no_audit_no_data(ctx: Any, people: dict, approved: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real_open = ctx.vault.open
    monkeypatch.setattr(ctx.vault, "open", lambda *a: opened.append("x") or real_open(*a))

    def broken_append(**_: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ctx.audit, "append", broken_append)
    with pytest.raises(AuditUnavailable):
        list(ds.read_records(ctx, people["olivia"], approved))
    assert opened == []


def test_policy_failure_denies(ctx: Any, people: dict, approved: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.policy import Decision

    monkeypatch.setattr(ctx.policy, "decide", lambda _input: Decision(
        allow=False, reasons=["policy engine error: boom"], policy_hash="x"))
    with pytest.raises(AccessDenied, match="policy engine error"):
        list(open_object(ctx, people["olivia"], "dataset.read_for_training",
                         ds.get_dataset(ctx, approved).resource(), object_of(ctx, approved),
                         "training"))
