"""Ingest, review, reads through the gate, deletion: against a real home."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.errors import AccessDenied, Conflict, InvalidInput, NotFound, PayloadTooLarge

RECORDS = [{"id": i, "text": f"ticket number {i} about billing", "label": "billing"}
           for i in range(20)]


def ingest(ctx: Any, who: Any, records: list[dict] | bytes = RECORDS, **spec: Any) -> Any:
    data = records if isinstance(records, bytes) else b"".join(
        json.dumps(r).encode() + b"\n" for r in records)
    spec = {"task": "classification", "text_field": "text", "label_field": "label",
            "redact": False, **spec}
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name="t", source_name="t.jsonl",
                            fmt="jsonl", spec=ds.parse_spec(spec))


def stored_state(ctx: Any) -> tuple[int, int, list[str]]:
    datasets = ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
    objects = ctx.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    files = sorted(str(p) for p in (ctx.home / "objects").rglob("*") if p.is_file())
    return datasets, objects, files


def test_ingest_stores_pending_dataset_with_hash(ctx: Any, people: dict) -> None:
    result = ingest(ctx, people["olivia"])
    info = ds.get_dataset(ctx, result.dataset_id)
    assert (info.state, info.row_count, info.uploaded_by) == ("PENDING_REVIEW", 20, "olivia")
    assert len(info.content_hash) == 64 and info.content_hash == result.content_hash
    assert result.report["cleaning"]["records_in"] == 20


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"text": "a", "label": "x"}\n{"text": \xff}\n', InvalidInput),
        (b'{"text": "a", "label": "x"}\n{"text": "b"\n', InvalidInput),
        (b"", InvalidInput),
        (b'{"text": "' + b"z" * 2_000_001 + b'"}\n', PayloadTooLarge),
        (b'{"text": "", "label": "x"}\n', InvalidInput),  # nothing left after cleaning
    ],
)
def test_rejected_upload_leaves_nothing(ctx: Any, people: dict, payload: bytes,
                                        error: type) -> None:
    ingest(ctx, people["olivia"])
    before = stored_state(ctx)
    with pytest.raises(error):
        ingest(ctx, people["olivia"], payload)
    assert stored_state(ctx) == before
    assert list((ctx.home / "tmp").iterdir()) == []


def test_auditor_cannot_ingest(ctx: Any, people: dict) -> None:
    with pytest.raises(AccessDenied):
        ingest(ctx, people["audra"])
    assert stored_state(ctx)[:2] == (0, 0)


def test_review_flow_and_separation_of_duties(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    with pytest.raises(AccessDenied) as denied:
        ds.approve_dataset(ctx, people["olivia"], dataset_id)
    assert denied.value.reasons
    with pytest.raises(AccessDenied):
        ds.read_records(ctx, people["olivia"], dataset_id)  # not approved yet
    assert ds.approve_dataset(ctx, people["carol"], dataset_id, "ok").state == "APPROVED"
    with pytest.raises((Conflict, AccessDenied)):
        ds.approve_dataset(ctx, people["dmitri"], dataset_id)
    assert [r["id"] for r in ds.read_records(ctx, people["olivia"], dataset_id)] == list(range(20))
    revoked = ds.revoke_dataset(ctx, people["carol"], dataset_id, "consent withdrawn")
    assert revoked.state == "REVOKED"
    with pytest.raises(AccessDenied):
        list(ds.read_records(ctx, people["olivia"], dataset_id))


def test_compliance_uploader_cannot_approve_own_upload(ctx: Any, people: dict) -> None:
    # Only operators ingest by default; the rule holds whoever the uploader is.
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    ctx.conn.execute("UPDATE datasets SET uploaded_by='carol' WHERE dataset_id=?", (dataset_id,))
    with pytest.raises(AccessDenied):
        ds.approve_dataset(ctx, people["carol"], dataset_id)
    assert ds.approve_dataset(ctx, people["dmitri"], dataset_id).state == "APPROVED"


def test_restricted_needs_two_distinct_approvals(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"], classification="restricted").dataset_id
    first = ds.approve_dataset(ctx, people["carol"], dataset_id)
    assert first.state == "PENDING_REVIEW" and first.approvals == ["carol"]
    with pytest.raises(AccessDenied):
        list(ds.read_records(ctx, people["olivia"], dataset_id))
    with pytest.raises((AccessDenied, Conflict)):
        ds.approve_dataset(ctx, people["carol"], dataset_id)  # the same person twice
    assert ds.approve_dataset(ctx, people["dmitri"], dataset_id).state == "APPROVED"


def test_reject_is_final(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    assert ds.reject_dataset(ctx, people["carol"], dataset_id, "PII left").state == "REJECTED"
    with pytest.raises((Conflict, AccessDenied)):
        ds.approve_dataset(ctx, people["dmitri"], dataset_id)


def test_each_read_is_exactly_one_audit_event(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    before = len(ctx.audit.query(limit=None))
    sample = ds.sample_records(ctx, people["carol"], dataset_id, 3)
    events = ctx.audit.query(limit=None)[before:]
    assert len(sample) == 3
    assert [(e.action, e.decision) for e in events] == [("dataset.read_sample", "allow")]
    assert events[0].details["object_id"]
    assert "ticket number" not in json.dumps([e.as_dict() for e in events])


def test_auditor_never_reads_contents_and_denial_is_audited(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    with pytest.raises(AccessDenied):
        ds.sample_records(ctx, people["audra"], dataset_id, 1)
    last = ctx.audit.query(limit=None)[-1]
    assert (last.actor, last.action, last.decision) == ("audra", "dataset.read_sample", "deny")
    assert last.reasons


def test_delete_shreds_contents(ctx: Any, people: dict) -> None:
    dataset_id = ingest(ctx, people["olivia"]).dataset_id
    ds.approve_dataset(ctx, people["carol"], dataset_id)
    row = ctx.conn.execute("SELECT object_id FROM datasets WHERE dataset_id=?",
                           (dataset_id,)).fetchone()
    ds.delete_dataset(ctx, people["carol"], dataset_id)
    assert ds.get_dataset(ctx, dataset_id).state == "DELETED"
    wrapped = ctx.conn.execute("SELECT wrapped_key FROM objects WHERE object_id=?",
                               (row["object_id"],)).fetchone()
    assert wrapped is None or wrapped["wrapped_key"] is None
    with pytest.raises(NotFound, match="unrecoverable"):
        ds.read_records(ctx, people["olivia"], dataset_id)


def test_nested_fields_and_drop(ctx: Any, people: dict) -> None:
    records = [{"customer": {"note": f"note {i}", "ssn": "x"}, "y": "a"} for i in range(3)]
    result = ingest(ctx, people["olivia"], records, text_field="customer.note", label_field="y",
                    drop_fields=["customer.ssn"])
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    stored = list(ds.read_records(ctx, people["olivia"], result.dataset_id))
    assert stored[0] == {"customer": {"note": "note 0"}, "y": "a"}


def test_no_plaintext_in_home_after_ingest(ctx: Any, people: dict, home: Path) -> None:
    from appliance.demo import find_plaintext

    ingest(ctx, people["olivia"])
    assert find_plaintext(home, [r["text"] for r in RECORDS]) == []
