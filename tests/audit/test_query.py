"""Queries for auditors: newest first, prefix and substring filters, anchored paging, streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit import AuditLog, TextMatch, iter_matching
from appliance.errors import InvalidInput
from tests.audit.conftest import event_fields, fill


@pytest.fixture
def segmented(audit_dir: Path, key: Ed25519PrivateKey, clock: object) -> AuditLog:
    """A log whose segments hold a few events each, so reads cross segment borders."""
    log = AuditLog(audit_dir, key, clock, segment_max_bytes=1500)  # type: ignore[arg-type]
    fill(log, 30)
    assert len(list(audit_dir.glob("segment-*.jsonl"))) > 3
    return log


def test_newest_first_reverses_the_whole_log_across_segments(segmented: AuditLog) -> None:
    assert [e.seq for e in segmented.query(newest_first=True)] == list(range(30, 0, -1))
    assert [e.seq for e in segmented.query()] == list(range(1, 31))


def test_newest_first_pages_are_contiguous_and_end_with_the_first_event(
        segmented: AuditLog) -> None:
    pages = [[e.seq for e in segmented.query(newest_first=True, limit=7, offset=offset)]
             for offset in range(0, 35, 7)]
    assert pages[0] == [30, 29, 28, 27, 26, 25, 24]
    assert pages[1] == [23, 22, 21, 20, 19, 18, 17]
    assert [seq for page in pages for seq in page] == list(range(30, 0, -1))
    alice = [e.seq for e in segmented.query(actor="alice", newest_first=True, limit=3, offset=2)]
    assert alice == [25, 23, 21]  # alice writes the odd seqs (event_fields(n) with n even)


def test_prefix_and_substring_filters(log: AuditLog) -> None:
    log.append(**event_fields(1, action="dataset.approve", resource="dataset:ds_a1"))
    log.append(**event_fields(2, action="dataset.reject", resource="dataset:ds_b2"))
    log.append(**event_fields(3, action="model.export.approve", resource="export:exp_c3"))
    log.append(**event_fields(4, action="datasets.other", actor="alice-admin"))
    approvals = log.query(action=TextMatch("approve", "contains"))
    assert [e.action for e in approvals] == ["dataset.approve", "model.export.approve"]
    datasets = log.query(action=TextMatch("dataset.", "prefix"), newest_first=True)
    assert [e.action for e in datasets] == ["dataset.reject", "dataset.approve"]
    assert [e.seq for e in log.query(resource=TextMatch("ds_b", "contains"))] == [2]
    assert [e.seq for e in log.query(actor=TextMatch("alice", "prefix"))] == [2, 4]
    assert [e.seq for e in log.query(actor="alice")] == [2]  # a plain string stays exact
    assert log.query(action=TextMatch("approve", "prefix")) == []
    with pytest.raises(InvalidInput, match="not one of exact, prefix, contains"):
        TextMatch("x", "regex")  # type: ignore[arg-type]


def test_up_to_seq_keeps_newest_first_pages_in_place_as_the_log_grows(
        segmented: AuditLog) -> None:
    first = segmented.query(newest_first=True, limit=10)
    fill(segmented, 5)  # written between the two page views
    shifted = segmented.query(newest_first=True, limit=10, offset=10)
    assert shifted[0].seq == first[-1].seq + 4  # without the anchor: five events repeat
    anchored = segmented.query(newest_first=True, limit=10, offset=10, up_to_seq=first[0].seq)
    assert [e.seq for e in anchored] == list(range(20, 10, -1))
    oldest = segmented.query(up_to_seq=12, offset=10)
    assert [e.seq for e in oldest] == [11, 12]
    with pytest.raises(InvalidInput):
        segmented.query(up_to_seq=-1)


def test_iter_matching_streams_a_snapshot(segmented: AuditLog, audit_dir: Path) -> None:
    stream = iter_matching(audit_dir, newest_first=True)
    assert next(stream).seq == 30
    fill(segmented, 3)  # appended while the download streams
    assert [e.seq for e in stream] == list(range(29, 0, -1))


def test_filters_match_values_canonical_json_escapes_or_leaves_as_utf8(log: AuditLog) -> None:
    """The byte-level pre-test skips lines only when the value would appear verbatim."""
    log.append(**event_fields(1, actor="zoë", resource='dataset:"quoted"\\x'))
    log.append(**event_fields(2, actor="zoe", resource="dataset:plain"))
    assert [e.seq for e in log.query(actor="zoë")] == [1]
    assert [e.seq for e in log.query(actor=TextMatch("zo", "prefix"))] == [1, 2]
    assert [e.seq for e in log.query(resource='dataset:"quoted"\\x')] == [1]
    assert [e.seq for e in log.query(resource=TextMatch('"quoted"', "contains"))] == [1]
    assert [e.seq for e in log.query(resource=TextMatch("plain", "contains"),
                                     actor="zoe")] == [2]
