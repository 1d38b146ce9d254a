"""verify_log with worker processes is exactly as strict as the sequential walk, word for word."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit import AuditLog, verify_log
from appliance.audit.canonical import long_digit_runs
from appliance.errors import IntegrityError

from .conftest import event_fields, fill, read_lines, segment, write_lines
from .test_tamper import line_for, rechain


@pytest.fixture
def segmented(audit_dir: Path, key: Ed25519PrivateKey) -> Path:
    """40 events in batches of 3 over segments of ~3 KB: checkpoints inside and across them."""
    log = AuditLog(audit_dir, key, segment_max_bytes=3000)
    fill(log, 40, batch=3)
    assert segment(audit_dir, 4).exists()
    return audit_dir


def outcome(audit_dir: Path, key: Ed25519PrivateKey, workers: int) -> str:
    if workers > 1:
        return with_workers(audit_dir, key)[0]
    try:
        return repr(verify_log(audit_dir, key.public_key(), workers=workers))
    except IntegrityError as exc:
        return f"IntegrityError: {exc.message}"


# verify_log forks workers only from a process with no other thread (a lock another thread holds
# would stay locked in the child), and a test session has threads left by other tests: so the
# verification with workers runs in a fresh interpreter, which also reports which segments the
# parent had to check itself.
_CHILD = """
import json, sys
from pathlib import Path
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from appliance.audit import verify as v
from appliance.errors import IntegrityError
rechecked = []
real = v._verify_segment
def spy(chain, path, last):
    rechecked.append(path.name)
    return real(chain, path, last=last)
v._verify_segment = spy
audit_dir, pem, saved = sys.argv[1], Path(sys.argv[2]).read_bytes(), sys.argv[3]
checkpoint = json.loads(Path(saved).read_text()) if saved else None
try:
    out = repr(v.verify_log(audit_dir, load_pem_public_key(pem), checkpoint, workers=2))
except IntegrityError as exc:
    out = "IntegrityError: " + exc.message
print(json.dumps({"outcome": out, "rechecked": rechecked}))
"""


def with_workers(audit_dir: Path, key: Ed25519PrivateKey,
                 checkpoint: dict[str, Any] | None = None) -> tuple[str, list[str]]:
    """(outcome, segments the parent re-checked itself) of verify_log with 2 workers."""
    pem = audit_dir.parent / "verify-key.pem"
    pem.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    saved = ""
    if checkpoint is not None:
        saved = str(audit_dir.parent / "saved-checkpoint.json")
        Path(saved).write_text(json.dumps(checkpoint))
    done = subprocess.run([sys.executable, "-c", _CHILD, str(audit_dir), str(pem), saved],
                          capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["outcome"], result["rechecked"]


def edit(index: int, change: Callable[[list[bytes]], list[bytes]]) -> Callable[[Path], None]:
    def apply(audit_dir: Path) -> None:
        path = segment(audit_dir, index)
        write_lines(path, change(read_lines(path)))
    return apply


def _flip(lines: list[bytes]) -> list[bytes]:
    lines[1] = lines[1].replace(b'"decision":"deny"', b'"decision":"allow"').replace(
        b'"decision":"allow"', b'"decision":"deny"', 1)
    return lines


def _resigned_actor(lines: list[bytes]) -> list[bytes]:
    event = json.loads(lines[1])
    event["actor"] = "mallory"
    lines[1] = line_for(event)
    return lines


def _rechained(lines: list[bytes]) -> list[bytes]:
    """Edit and re-chain the rest of this segment: the next segment's first link breaks."""
    return _rechain_within(_resigned_actor(lines))


def _rechain_within(lines: list[bytes]) -> list[bytes]:
    first = json.loads(lines[0])
    out = rechain([line_for({**first, "seq": 1, "prev_hash": "0" * 64})] + lines[1:], 1)
    renumbered = []
    for offset, line in enumerate(out[1:], start=1):
        event = json.loads(line)
        event["seq"] = first["seq"] + offset
        event["prev_hash"] = json.loads(renumbered[-1] if renumbered else lines[0])["hash"]
        renumbered.append(line_for(event))
    return [lines[0], *renumbered]


def _big_integer(lines: list[bytes]) -> list[bytes]:
    lines[1] = big_integer_line(lines[1])
    return lines


def big_integer_line(line: bytes) -> bytes:
    """``line`` with ``details.records`` = 2**53 and the hash recomputed (rfc8785 refuses it)."""
    event = json.loads(line)
    event.pop("hash")
    event["details"]["records"] = 2**53
    body = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


TAMPERING = {
    "edited field": edit(2, _flip),
    "edited field, hash recomputed": edit(2, _resigned_actor),
    "edited and re-chained to the segment's end": edit(2, _rechained),
    "deleted line": edit(3, lambda lines: lines[:1] + lines[2:]),
    "reordered lines": edit(2, lambda lines: [lines[1], lines[0], *lines[2:]]),
    "garbage line": edit(3, lambda lines: [lines[0], b"not json\n", *lines[2:]]),
    "not UTF-8": edit(2, lambda lines: [lines[0], b"\xff\xfe\n", *lines[2:]]),
    "non-canonical line": edit(2, lambda lines: [
        lines[0], json.dumps(json.loads(lines[1]), sort_keys=True).encode() + b"\n",
        *lines[2:]]),
    "integer beyond 2**53, hash recomputed": edit(2, _big_integer),
    "middle segment cut short": edit(2, lambda lines: [*lines[:-1], lines[-1][:40]]),
    "middle segment emptied": edit(2, lambda lines: []),
}


def _move_first_line_back(audit_dir: Path) -> None:
    second, third = read_lines(segment(audit_dir, 2)), read_lines(segment(audit_dir, 3))
    write_lines(segment(audit_dir, 2), [*second, third[0]])
    write_lines(segment(audit_dir, 3), third[1:])


def test_an_untouched_log_is_verified_by_the_workers(
    segmented: Path, key: Ed25519PrivateKey
) -> None:
    sequential = outcome(segmented, key, workers=1)
    parallel, rechecked = with_workers(segmented, key)
    assert parallel == sequential
    assert rechecked == []  # every segment's result came from a worker
    assert "events=40" in sequential


def test_segment_boundaries_are_not_part_of_the_chain(
    segmented: Path, key: Ed25519PrivateKey
) -> None:
    """A line moved to the end of the segment before leaves the chain intact: both agree."""
    _move_first_line_back(segmented)
    assert outcome(segmented, key, workers=2) == outcome(segmented, key, workers=1)
    assert "events=40" in outcome(segmented, key, workers=2)


@pytest.mark.parametrize("name", list(TAMPERING))
def test_tampering_gets_the_same_error_with_workers(
    segmented: Path, key: Ed25519PrivateKey, name: str
) -> None:
    TAMPERING[name](segmented)
    sequential = outcome(segmented, key, workers=1)
    assert sequential.startswith("IntegrityError: ")
    assert outcome(segmented, key, workers=2) == sequential


def test_an_auditors_checkpoint_is_checked_with_workers(
    segmented: Path, key: Ed25519PrivateKey
) -> None:
    log = AuditLog(segmented, key)
    saved = log.latest_checkpoint()
    report, rechecked = with_workers(segmented, key, saved)
    assert "proven_since=40" in report and rechecked == []
    edit(1, _rechained)(segmented)  # not re-signed: the first checkpoint catches it
    failed, _ = with_workers(segmented, key, saved)
    assert re.search(r"checkpoints\.jsonl:\d+: head_hash at tree_size", failed), failed
    with pytest.raises(IntegrityError, match=r"checkpoints\.jsonl:\d+: head_hash at tree_size"):
        verify_log(segmented, key.public_key(), saved, workers=1)


def test_integers_are_range_checked_however_the_line_is_scanned(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    log.append(**event_fields(1, details={"object_id": "1234567890123456789", "records": 7}))
    log.append(**event_fields(2, details={"records": 2**53 - 1}))
    assert verify_log(audit_dir, key.public_key()).events == 2
    lines = read_lines(segment(audit_dir))
    assert long_digit_runs(b"".join(lines)) == {1, 2}
    lines[1] = big_integer_line(lines[1])
    write_lines(segment(audit_dir), lines)
    with pytest.raises(IntegrityError, match=r"jsonl:2: not a JSON event \(integer "
                                             r"9007199254740992 is outside"):
        verify_log(audit_dir, key.public_key())


def test_long_digit_runs_finds_every_line_that_needs_the_strict_scanner() -> None:
    data = b'{"a":1}\n{"b":"1234567890123456"}\n{"c":123456789012345}\n\n[12345678901234567]'
    assert long_digit_runs(data) == {2, 5}
    assert long_digit_runs(b"") == set()
