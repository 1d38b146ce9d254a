"""Every way to tamper with the log is caught by verify_log, naming where and what."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit import AuditLog, key_id, verify_log
from appliance.audit.canonical import canonical_json
from appliance.errors import AuditUnavailable, IntegrityError

from .conftest import event_fields, fill, read_lines, segment, write_lines

CHECKPOINTS = "checkpoints.jsonl"


@pytest.fixture
def filled(log: AuditLog, audit_dir: Path) -> Path:
    """20 events in batches of 5: checkpoints at tree sizes 5, 10, 15 and 20."""
    fill(log, 20, batch=5)
    return audit_dir


def verify(audit_dir: Path, key: Ed25519PrivateKey, checkpoint: dict[str, Any] | None = None
           ) -> Any:
    return verify_log(audit_dir, key.public_key(), checkpoint)


def line_for(event: dict[str, Any]) -> bytes:
    """The stored form of ``event`` with a freshly computed hash (what a forger would write)."""
    body = {k: v for k, v in event.items() if k != "hash"}
    encoded = rfc8785.dumps(body)
    digest = hashlib.sha256(encoded).hexdigest()
    return encoded[:-1] + b',"hash":"' + digest.encode() + b'"}\n'


def rechain(lines: list[bytes], start: int) -> list[bytes]:
    """Renumber and re-hash every line from ``start``, as an attacker without the key would."""
    out = list(lines[:start])
    prev = json.loads(out[-1])["hash"] if out else "0" * 64
    for index, line in enumerate(lines[start:], start=start):
        event = json.loads(line)
        event["seq"], event["prev_hash"] = index + 1, prev
        out.append(line_for(event))
        prev = json.loads(out[-1])["hash"]
    return out


def test_an_untouched_log_verifies(filled: Path, key: Ed25519PrivateKey) -> None:
    report = verify(filled, key)
    assert (report.events, report.checkpoints, report.signed_tree_size) == (20, 4, 20)
    assert report.torn_tails == () and report.warnings == []


def test_edited_field_names_the_event(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(segment(filled))
    assert b'"decision":"deny"' in lines[6]
    lines[6] = lines[6].replace(b'"decision":"deny"', b'"decision":"allow"')
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"segment-000001\.jsonl:7 \(seq 7\): hash expected "
                                             r"[0-9a-f]{64}, got [0-9a-f]{64}"):
        verify(filled, key)


def test_edited_field_with_recomputed_hash_breaks_the_next_link(
    filled: Path, key: Ed25519PrivateKey
) -> None:
    lines = read_lines(segment(filled))
    event = json.loads(lines[6])
    event["actor"] = "mallory"
    lines[6] = line_for(event)
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:8 \(seq 8\): prev_hash expected"):
        verify(filled, key)


def test_deleted_line(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(segment(filled))
    del lines[3]
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:4: seq expected 4, got 5: events were del"):
        verify(filled, key)


def test_inserted_forged_line_without_renumbering(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(segment(filled))
    forged = json.loads(lines[9])
    forged["actor"] = "mallory"
    lines.insert(10, line_for(forged))
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:11: seq expected 11, got 10"):
        verify(filled, key)


def test_inserted_forged_line_with_the_chain_recomputed_but_not_resigned(
    filled: Path, key: Ed25519PrivateKey
) -> None:
    lines = read_lines(segment(filled))
    forged = json.loads(lines[11])
    forged.update(actor="mallory", decision="allow")
    lines.insert(12, line_for(forged))
    write_lines(segment(filled), rechain(lines, 12))
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:3: head_hash at tree_size 15 "
                                             r"expected [0-9a-f]{64} \(signed\), got [0-9a-f]{64}: "
                                             r"events 11-15 .* differ from what was signed"):
        verify(filled, key)


def test_rewritten_event_with_chain_and_head_recomputed_fails_the_merkle_root(
    filled: Path, key: Ed25519PrivateKey
) -> None:
    """Even a forger who could make head_hash match would still face the signed Merkle root."""
    lines = read_lines(segment(filled))
    event = json.loads(lines[2])
    event["decision"] = "allow" if event["decision"] == "deny" else "deny"
    lines[2] = line_for(event)
    write_lines(segment(filled), rechain(lines, 3))
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:1: head_hash at tree_size 5"):
        verify(filled, key)


def test_reordered_lines(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(segment(filled))
    lines[4], lines[5] = lines[5], lines[4]
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:5: seq expected 5, got 6"):
        verify(filled, key)


def test_truncated_tail_is_caught_by_the_checkpoints(filled: Path, key: Ed25519PrivateKey) -> None:
    write_lines(segment(filled), read_lines(segment(filled))[:17])
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:4: tree_size expected at most 17"
                                             r" .*got 20: events 18-20 were removed"):
        verify(filled, key)


def test_truncation_names_every_removed_event_when_each_was_signed(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    """One checkpoint per event (one event per command): the first checkpoint past the end
    covers only the first removed event, yet the message must name all five."""
    fill(log, 290)
    write_lines(segment(audit_dir), read_lines(segment(audit_dir))[:-5])
    with pytest.raises(IntegrityError) as caught:
        verify(audit_dir, key)
    assert caught.value.message == (
        "checkpoints.jsonl:290: tree_size expected at most 285 (the events in the log), got 290: "
        "events 286-290 were removed (5 events; the latest checkpoint covers 290, the log ends "
        "at 285): the log was truncated")


def test_truncation_and_rewrite_are_caught_by_an_auditors_checkpoint(
    filled: Path, key: Ed25519PrivateKey, audit_dir: Path
) -> None:
    """The attacker truncates log and checkpoints consistently, then lets the appliance go on
    writing (and signing). Only a checkpoint kept outside the appliance can tell."""
    saved = AuditLog(audit_dir, None).latest_checkpoint()  # the auditor took this at 20
    write_lines(segment(filled), read_lines(segment(filled))[:10])
    write_lines(filled / CHECKPOINTS, read_lines(filled / CHECKPOINTS)[:2])  # up to size 10
    rewriter = AuditLog(audit_dir, key)
    rewriter.append_many([event_fields(100 + i, actor="mallory") for i in range(10)])
    assert verify(filled, key).events == 20  # internally consistent again ...
    with pytest.raises(IntegrityError, match=r"the given checkpoint: head_hash at tree_size 20 "
                                             r"expected .*: the log was rewritten since"):
        verify(filled, key, saved)  # ... but not what the auditor saw


def test_truncation_below_an_auditors_checkpoint(filled: Path, key: Ed25519PrivateKey,
                                                 audit_dir: Path) -> None:
    saved = AuditLog(audit_dir, None).latest_checkpoint()
    write_lines(segment(filled), read_lines(segment(filled))[:15])
    write_lines(filled / CHECKPOINTS, read_lines(filled / CHECKPOINTS)[:3])
    assert verify(filled, key).events == 15
    with pytest.raises(IntegrityError, match=r"the given checkpoint: tree_size expected at most 15"
                                             r" .*got 20: events 16-20 were removed"):
        verify(filled, key, saved)


def test_an_auditors_checkpoint_proves_append_only_growth(
    filled: Path, key: Ed25519PrivateKey, log: AuditLog
) -> None:
    saved = log.latest_checkpoint()
    fill(log, 7)
    report = verify(filled, key, saved)
    assert report.proven_since == 20 and report.events == 27


def test_forged_checkpoint_signature(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(filled / CHECKPOINTS)
    checkpoint = json.loads(lines[1])
    checkpoint["tree_size"] = 9
    lines[1] = canonical_json(checkpoint) + b"\n"
    write_lines(filled / CHECKPOINTS, lines)
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:2: signature does not verify"):
        verify(filled, key)


def test_checkpoint_signed_by_another_key(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(filled / CHECKPOINTS)
    checkpoint = json.loads(lines[0])
    other = Ed25519PrivateKey.generate()
    body = {k: v for k, v in checkpoint.items() if k not in ("signature", "compact_range")}
    body["key_id"] = key_id(other)
    signature = other.sign(canonical_json(body))
    lines[0] = canonical_json({**body, "signature": base64.b64encode(signature).decode()}) + b"\n"
    write_lines(filled / CHECKPOINTS, lines)
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:1: key_id expected "
                                             + key_id(key) + ", got " + key_id(other)):
        verify(filled, key)
    body["key_id"] = key_id(key)  # claim our key id: the signature still gives it away
    signature = other.sign(canonical_json(body))
    lines[0] = canonical_json({**body, "signature": base64.b64encode(signature).decode()}) + b"\n"
    write_lines(filled / CHECKPOINTS, lines)
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:1: signature does not verify"):
        verify(filled, key)


def test_verifying_with_the_wrong_public_key(filled: Path) -> None:
    with pytest.raises(IntegrityError, match="key_id expected"):
        verify(filled, Ed25519PrivateKey.generate())


def test_reordered_checkpoints(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(filled / CHECKPOINTS)
    lines[1], lines[2] = lines[2], lines[1]
    write_lines(filled / CHECKPOINTS, lines)
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:3: tree_size expected more than "
                                             r"15 .*got 10"):
        verify(filled, key)


def test_swapped_segments(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog(audit_dir, key, segment_max_bytes=3000)
    fill(log, 12, batch=3)
    first, second = segment(audit_dir, 1), segment(audit_dir, 2)
    assert second.exists()
    spare = audit_dir / "spare"
    first.rename(spare)
    second.rename(first)
    spare.rename(second)
    with pytest.raises(IntegrityError, match=r"segment-000001\.jsonl:1: seq expected 1, got \d+"):
        verify(audit_dir, key)


def test_removed_segment(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog(audit_dir, key, segment_max_bytes=1000)
    fill(log, 12)
    assert segment(audit_dir, 3).exists()
    segment(audit_dir, 2).unlink()
    with pytest.raises(IntegrityError, match=r"expected segment-000002\.jsonl, got "
                                             r"segment-000003\.jsonl"):
        verify(audit_dir, key)


def test_first_segment_removed(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog(audit_dir, key, segment_max_bytes=2000)
    fill(log, 8)
    segment(audit_dir, 1).unlink()
    with pytest.raises(IntegrityError, match=r"expected segment-000001\.jsonl, got segment-000002"):
        verify(audit_dir, key)


def test_reserialised_line_with_a_flipped_decision(filled: Path, key: Ed25519PrivateKey) -> None:
    """What the demo does: json.loads, flip, json.dumps (spaces, hash in sorted place)."""
    lines = read_lines(segment(filled))
    event = json.loads(lines[5])
    event["decision"] = "allow" if event["decision"] == "deny" else "deny"
    lines[5] = json.dumps(event).encode() + b"\n"
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:6 \(seq 6\): hash expected"):
        verify(filled, key)


def test_same_event_in_another_encoding(filled: Path, key: Ed25519PrivateKey) -> None:
    lines = read_lines(segment(filled))
    lines[5] = json.dumps(json.loads(lines[5]), sort_keys=True).encode() + b"\n"
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:6 \(seq 6\): line expected in canonical form"):
        verify(filled, key)


def test_duplicate_key_smuggled_into_a_line(filled: Path, key: Ed25519PrivateKey) -> None:
    """Tools disagree on which duplicate wins; the log must never hold one."""
    lines = read_lines(segment(filled))
    lines[5] = lines[5].replace(b'{"action"', b'{"decision":"allow","action"', 1)
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:6 \(seq 6\)"):
        verify(filled, key)


@pytest.mark.parametrize("garbage, message", [
    (b"not json\n", "not a JSON event"),
    (b"[1,2,3]\n", "expected a JSON object"),
    (b'{"seq": 3}\n', "event fields expected"),
    (b"\xff\xfe\n", "not valid UTF-8"),
    (b"\n", "not a JSON event"),
])
def test_garbage_line(filled: Path, key: Ed25519PrivateKey, garbage: bytes, message: str) -> None:
    lines = read_lines(segment(filled))
    lines[2] = garbage
    write_lines(segment(filled), lines)
    with pytest.raises(IntegrityError, match=r"segment-000001\.jsonl:3: " + message):
        verify(filled, key)


def test_checkpoints_deleted_is_visible(filled: Path, key: Ed25519PrivateKey) -> None:
    (filled / CHECKPOINTS).unlink()
    report = verify(filled, key)
    assert report.signed_tree_size == 0 and report.unsigned_events == 20
    assert "not covered by a signed checkpoint" in report.warnings[0]


def test_verify_needs_only_the_log_and_the_public_key(filled: Path, key: Ed25519PrivateKey,
                                                      tmp_path: Path) -> None:
    copy = tmp_path / "auditor-copy"
    shutil.copytree(filled, copy)
    assert verify_log(copy, key.public_key()).events == 20


def test_the_appliance_refuses_to_extend_a_truncated_log(
    filled: Path, key: Ed25519PrivateKey, audit_dir: Path
) -> None:
    write_lines(segment(filled), read_lines(segment(filled))[:17])
    with pytest.raises(AuditUnavailable, match="damaged .* events were removed"):
        AuditLog(audit_dir, key).append(**event_fields())


def test_the_appliance_refuses_to_extend_an_edited_tail(
    filled: Path, key: Ed25519PrivateKey, audit_dir: Path
) -> None:
    lines = read_lines(segment(filled))
    lines[-1] = lines[-1].replace(b'"actor":"', b'"actor":"x', 1)
    write_lines(segment(filled), lines)
    with pytest.raises(AuditUnavailable, match="damaged"):
        AuditLog(audit_dir, key).append(**event_fields())


def test_forged_events_appended_at_the_tail_are_recorded_when_adopted(
    filled: Path, key: Ed25519PrivateKey, audit_dir: Path
) -> None:
    """Someone with write access appends a well-formed event; it is not signed, so verify warns,
    and the appliance records that it took in unsigned events before it signs over them."""
    lines = read_lines(segment(filled))
    forged = json.loads(lines[-1])
    forged.update(seq=21, prev_hash=forged["hash"], actor="mallory")
    lines.append(line_for(forged))
    write_lines(segment(filled), lines)
    assert verify(filled, key).unsigned_events == 1
    AuditLog(audit_dir, key).append(**event_fields())
    adopted = AuditLog(audit_dir, None).query(action="audit.unsigned_events_adopted")
    assert len(adopted) == 1 and dict(adopted[0].details) == {"first_seq": 21, "last_seq": 21}
    assert verify(filled, key).unsigned_events == 0
