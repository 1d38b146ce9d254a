"""Appending: the files on disk, segments, checkpoints, the head cache, group commit, queries."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit import (
    AuditLog,
    dump_checkpoint,
    export_csv,
    export_jsonl,
    key_id,
    load_public_key_file,
    read_checkpoint_file,
    verify_log,
)
from appliance.audit import files as audit_files
from appliance.errors import AuditUnavailable, InvalidInput, NotFound

from .conftest import event_fields, fill, segment


def test_one_event_per_line_readable_with_ordinary_tools(log: AuditLog, audit_dir: Path) -> None:
    first = log.append(**event_fields(1))
    second = log.append(**event_fields(2))
    lines = segment(audit_dir).read_text("utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    stored = json.loads(lines[1])
    assert stored["hash"] == second.hash and stored["prev_hash"] == first.hash
    assert first.prev_hash == "0" * 64
    assert first.time == "2025-01-01T00:00:00.000000Z"
    body = {k: v for k, v in stored.items() if k != "hash"}
    assert hashlib.sha256(rfc8785.dumps(body)).hexdigest() == stored["hash"]


def test_files_are_private(log: AuditLog, audit_dir: Path) -> None:
    log.append(**event_fields())
    assert stat.S_IMODE(audit_dir.stat().st_mode) == 0o700
    for name in ("segment-000001.jsonl", "checkpoints.jsonl", ".lock"):
        assert stat.S_IMODE((audit_dir / name).stat().st_mode) == 0o600, name


def test_nothing_is_created_until_the_first_append(log: AuditLog, audit_dir: Path) -> None:
    assert not audit_dir.exists()
    assert log.query() == []


def test_segments_roll_at_the_size_limit_and_chain_across(
    audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    log = AuditLog(audit_dir, key, segment_max_bytes=2000)
    events = fill(log, 12)
    segments = sorted(audit_dir.glob("segment-*.jsonl"))
    assert len(segments) >= 3
    assert all(p.stat().st_size < 2000 + 1000 for p in segments)
    report = verify_log(audit_dir, key.public_key())
    assert report.events == 12 and report.segments == len(segments)
    assert report.head_hash == events[-1].hash
    assert [e.seq for e in log.query()] == list(range(1, 13))
    assert [e.seq for e in log.query(offset=7, limit=3)] == [8, 9, 10]  # pages across segments
    assert [e.seq for e in log.query(offset=11)] == [12]


def test_a_signed_checkpoint_after_every_write_batch(log: AuditLog, audit_dir: Path,
                                                     key: Ed25519PrivateKey) -> None:
    fill(log, 10, batch=4)  # batches of 4, 4, 2
    checkpoints = [json.loads(line) for line in (audit_dir / "checkpoints.jsonl").read_text()
                   .splitlines()]
    assert [c["tree_size"] for c in checkpoints] == [4, 8, 10]
    assert all(c["key_id"] == key_id(key) for c in checkpoints)
    latest = log.latest_checkpoint()
    assert latest["tree_size"] == 10 and "compact_range" not in latest
    assert verify_log(audit_dir, key.public_key()).checkpoints == 3


def test_append_many_is_one_write_and_one_fsync(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    log.append(**event_fields())  # creates the files: directory fsyncs happen once
    synced.clear()
    events = log.append_many([event_fields(i) for i in range(50)])
    assert [e.seq for e in events] == list(range(2, 52))
    assert len(synced) == 2  # the segment (events durable), then the checkpoint file


def test_checkpoint_round_trip_for_auditors(log: AuditLog, tmp_path: Path,
                                            key: Ed25519PrivateKey, audit_dir: Path) -> None:
    with pytest.raises(NotFound):
        log.latest_checkpoint()
    fill(log, 3)
    saved = tmp_path / "checkpoint.json"
    saved.write_text(dump_checkpoint(log.latest_checkpoint()), "utf-8")
    pub = tmp_path / "audit.pub"
    pub.write_text(log.public_key_pem(), "ascii")
    report = verify_log(audit_dir, load_public_key_file(pub), read_checkpoint_file(saved))
    assert report.proven_since == 3
    assert key_id(key) == hashlib.sha256(pub.read_bytes()).hexdigest()


def test_head_is_cached_not_reread_on_every_append(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    log.append(**event_fields())
    reads: list[Path] = []
    real = audit_files.read_tail
    monkeypatch.setattr("appliance.audit.log.read_tail", lambda p: (reads.append(p), real(p))[1])
    fill(log, 5)
    assert reads == []


def test_a_write_by_another_handle_is_noticed(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    one, two = AuditLog(audit_dir, key), AuditLog(audit_dir, key)
    one.append(**event_fields(1))
    two.append(**event_fields(2))
    third = one.append(**event_fields(3))
    assert third.seq == 3
    assert verify_log(audit_dir, key.public_key()).events == 3


def test_group_commit_batches_concurrent_threads(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog(audit_dir, key, group_commit=True)
    threads, per_thread = 8, 25
    results: dict[int, list[int]] = {}

    def worker(n: int) -> None:
        results[n] = [log.append(**event_fields(n * 1000 + i)).seq for i in range(per_thread)]

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seqs = sorted(s for values in results.values() for s in values)
    assert seqs == list(range(1, threads * per_thread + 1))
    events = log.query()
    assert sorted(e.details["records"] for e in events) == sorted(
        n * 1000 + i for n in range(threads) for i in range(per_thread))
    report = verify_log(audit_dir, key.public_key())
    assert report.events == threads * per_thread
    assert report.checkpoints < report.events  # several events shared a write and a checkpoint


def test_group_commit_respects_the_batch_limit(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog(audit_dir, key, group_commit=True, max_batch=3)
    pool = [threading.Thread(target=lambda n=n: [log.append(**event_fields(n * 10 + i))
                                                 for i in range(5)]) for n in range(6)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    checkpoints = (audit_dir / "checkpoints.jsonl").read_text().splitlines()
    sizes = [json.loads(line)["tree_size"] for line in checkpoints]
    assert sizes[-1] == 30
    assert all(b - a <= 3 for a, b in zip([0, *sizes], sizes, strict=False))
    assert verify_log(audit_dir, key.public_key()).events == 30


def test_group_commit_reports_a_failed_batch_to_every_caller(
    audit_dir: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AuditLog(audit_dir, key, group_commit=True)
    log.append(**event_fields())

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            log.append(**event_fields())
        except AuditUnavailable as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(4)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert len(errors) == 4


def test_group_commit_survives_a_failed_checkpoint_sync(
    audit_dir: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader whose checkpoint fsync fails still hands the lead on: nobody hangs."""
    log = AuditLog(audit_dir, key, group_commit=True, max_batch=2)
    real = AuditLog._sync_checkpoint
    failures = iter([True, True] + [False] * 1000)

    def flaky(self: AuditLog, fd: int | None) -> None:
        real(self, fd)
        if fd is not None and next(failures):
            raise AuditUnavailable("injected: checkpoint fsync failed")

    monkeypatch.setattr(AuditLog, "_sync_checkpoint", flaky)
    outcomes: list[str] = []

    def worker(n: int) -> None:
        for i in range(4):
            try:
                log.append(**event_fields(n * 10 + i))
                outcomes.append("ok")
            except AuditUnavailable:
                outcomes.append("unavailable")

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(30)
    assert not any(thread.is_alive() for thread in pool)
    assert len(outcomes) == 24 and outcomes.count("unavailable") == 2
    assert verify_log(audit_dir, key.public_key()).events == 24


def test_invalid_fields_fail_only_their_caller(log: AuditLog) -> None:
    with pytest.raises(InvalidInput):
        log.append(**event_fields(details={"password": "hunter2"}))
    assert log.append(**event_fields()).seq == 1


def test_a_read_only_handle_refuses_to_append(audit_dir: Path, log: AuditLog) -> None:
    log.append(**event_fields())
    reader = AuditLog(audit_dir, None)
    with pytest.raises(AuditUnavailable, match="read-only"):
        reader.append(**event_fields())
    assert len(reader.query()) == 1
    assert reader.latest_checkpoint()["tree_size"] == 1


def test_query_filters(log: AuditLog) -> None:
    fill(log, 12)  # one second apart from 2025-01-01T00:00:00Z
    assert {e.actor for e in log.query(actor="bob")} == {"bob"}
    assert len(log.query(actor="bob")) == 6
    assert all(e.decision == "deny" for e in log.query(decision="deny"))
    assert [e.seq for e in log.query(resource="dataset:ds_0003")] == [4]
    assert log.query(action="dataset.approve") == []
    window = log.query(since=datetime(2025, 1, 1, 0, 0, 3, tzinfo=UTC),
                       until="2025-01-01T00:00:06Z")
    assert [e.seq for e in window] == [4, 5, 6]
    naive = log.query(since=datetime(2025, 1, 1, 0, 0, 10))
    assert [e.seq for e in naive] == [11, 12]
    assert [e.seq for e in log.query(limit=3, offset=2)] == [3, 4, 5]
    assert [e.seq for e in log.query(actor="alice", limit=2, offset=1)] == [3, 5]
    with pytest.raises(InvalidInput):
        log.query(since="yesterday")
    with pytest.raises(InvalidInput):
        log.query(limit=-1)


def test_export_jsonl_keeps_the_stored_lines(log: AuditLog, audit_dir: Path) -> None:
    fill(log, 4)
    out = io.StringIO()
    assert export_jsonl(log.query(), out) == 4
    assert out.getvalue().encode() == segment(audit_dir).read_bytes()


def test_export_csv(log: AuditLog) -> None:
    log.append(**event_fields(1, reasons=["=HYPERLINK(\"http://x\")", "plain"],
                              resource="-1+1"))
    out = io.StringIO()
    assert export_csv(log.query(), out) == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["seq"] == "1" and rows[0]["actor"] == "bob"
    assert json.loads(rows[0]["reasons"]) == ["=HYPERLINK(\"http://x\")", "plain"]
    assert json.loads(rows[0]["details"]) == {"object_id": "obj_0001", "records": 1}
    assert rows[0]["resource"] == "'-1+1"  # no formula for the spreadsheet to run
