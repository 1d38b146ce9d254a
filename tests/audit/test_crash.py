"""Crashes and failing disks: torn tails, unsigned events, and AuditUnavailable (no audit, no data).

The tests run as root, for whom ``chmod`` never makes a directory unwritable. Real failures are
used where the kernel can give them: a path whose parent is a regular file (ENOTDIR), a process
killed in the middle of a write, and -- inside a private mount namespace (``unshare --mount``) --
a 64 KiB tmpfs that fills up (ENOSPC) and a read-only bind mount (EROFS). Where a failure cannot
be produced on demand (an fsync I/O error, ENOSPC at one exact write), it is injected by
replacing ``os.write``/``os.fsync``, and the test says so.
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from appliance.audit import AuditLog, verify_log
from appliance.errors import AuditUnavailable

from .conftest import event_fields, fill, read_lines, segment, write_lines

REPO = Path(__file__).resolve().parents[2]


def tear(path: Path, event_line: bytes, keep: int) -> None:
    """Leave the first ``keep`` bytes of ``event_line`` at the end of ``path``, no newline."""
    with open(path, "ab") as handle:
        handle.write(event_line[:keep])


def test_torn_tail_is_reported_and_everything_before_it_verifies(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    fill(log, 6)
    lines = read_lines(segment(audit_dir))
    tear(segment(audit_dir), lines[2], 100)
    report = verify_log(audit_dir, key.public_key())
    assert report.events == 6 and report.signed_tree_size == 6
    (torn,) = report.torn_tails
    assert (torn.file, torn.line, torn.length) == ("segment-000001.jsonl", 7, 100)
    assert "segment-000001.jsonl:7: torn tail" in str(torn)
    assert "torn tail" in report.warnings[0]


def test_the_next_append_moves_the_torn_bytes_aside_and_records_it(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    fill(log, 6)
    size = segment(audit_dir).stat().st_size
    torn_bytes = read_lines(segment(audit_dir))[2][:100]
    tear(segment(audit_dir), torn_bytes, 100)
    after = AuditLog(audit_dir, key).append(**event_fields(99))  # as a fresh process would
    assert after.seq == 8  # seq 7 is the recovery record
    recovery = log.query(action="audit.torn_tail_recovered")
    assert len(recovery) == 1
    details = dict(recovery[0].details)
    assert details["file"] == "segment-000001.jsonl" and details["line"] == 7
    assert details["offset"] == size and details["torn_bytes"] == 100
    kept = audit_dir / "torn" / f"segment-000001.jsonl.line7.offset{size}.torn"
    assert kept.read_bytes() == torn_bytes
    assert details["torn_sha256"] == hashlib.sha256(torn_bytes).hexdigest()
    report = verify_log(audit_dir, key.public_key())
    assert report.events == 8 and report.torn_tails == () and report.warnings == []


def test_torn_checkpoint_line(log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey) -> None:
    fill(log, 3)
    checkpoints = audit_dir / "checkpoints.jsonl"
    lines = read_lines(checkpoints)
    write_lines(checkpoints, lines[:-1] + [lines[-1][:50]])
    report = verify_log(audit_dir, key.public_key())
    assert [t.file for t in report.torn_tails] == ["checkpoints.jsonl"]
    assert report.signed_tree_size == 2 and report.unsigned_events == 1
    log.append(**event_fields())
    actions = [e.action for e in log.query()][3:]
    assert actions == ["audit.torn_tail_recovered", "audit.unsigned_events_adopted",
                       "dataset.read_for_training"]
    assert verify_log(audit_dir, key.public_key()).warnings == []


def _crash_in(audit_dir: str, key_pem: bytes, where: str) -> None:
    """Child process: die (SIGKILL-like, no cleanup) at ``where`` in the middle of an append."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from appliance.audit import log as log_module

    key = load_pem_private_key(key_pem, None)
    if where == "event write":
        real_write = log_module.write_all

        def half_then_die(fd: int, data: bytes) -> None:
            real_write(fd, data[: len(data) // 2])
            os._exit(9)

        log_module.write_all = half_then_die  # type: ignore[assignment]
    else:
        def die(*args: Any) -> None:
            os._exit(9)

        log_module._append_checkpoint = die  # type: ignore[assignment]
    AuditLog(audit_dir, key).append_many([event_fields(i) for i in range(3)])  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["event write", "checkpoint"])
def test_a_process_killed_mid_append(audit_dir: Path, key: Ed25519PrivateKey, log: AuditLog,
                                     where: str) -> None:
    fill(log, 4)
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    child = multiprocessing.get_context("fork").Process(
        target=_crash_in, args=(str(audit_dir), pem, where))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    report = verify_log(audit_dir, key.public_key())
    assert report.signed_tree_size == 4  # nothing signed was lost
    if where == "event write":  # the first half of the batch: whole lines, then a torn one
        assert 4 <= report.events < 7 and len(report.torn_tails) == 1
    else:
        assert report.events == 7 and report.unsigned_events == 3
    log.append(**event_fields())
    repaired = verify_log(audit_dir, key.public_key())
    assert repaired.warnings == [] and repaired.unsigned_events == 0
    recovery = ("audit.torn_tail_recovered" if where == "event write"
                else "audit.unsigned_events_adopted")
    assert len(log.query(action=recovery)) == 1


def test_unwritable_directory_raises_audit_unavailable(tmp_path: Path,
                                                       key: Ed25519PrivateKey) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    log = AuditLog(blocker / "audit", key)
    with pytest.raises(AuditUnavailable, match="cannot write the audit log"):
        log.append(**event_fields())


def test_disk_full_mid_write_leaves_no_partial_line(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected: the first write(2) is short, the next fails with ENOSPC."""
    fill(log, 3)
    before = segment(audit_dir).read_bytes()
    real_write = os.write
    calls = {"n": 0}

    def short_then_full(fd: int, data: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data[:37]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", short_then_full)
    with pytest.raises(AuditUnavailable, match="No space left on device"):
        log.append(**event_fields())
    monkeypatch.undo()
    assert segment(audit_dir).read_bytes() == before  # cut back: no torn line
    assert log.append(**event_fields()).seq == 4
    assert verify_log(audit_dir, key.public_key()).warnings == []


def test_fsync_failure_raises_audit_unavailable(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected: fsync(2) reports EIO, as a failing disk does."""
    fill(log, 1)

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", eio)
    with pytest.raises(AuditUnavailable, match="Input/output error"):
        log.append(**event_fields())


def test_checkpoint_write_failure_is_unavailable_then_visible(
    log: AuditLog, audit_dir: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Injected: the events are durable but the checkpoint cannot be written (ENOSPC)."""
    fill(log, 2)
    from appliance.audit import log as log_module

    def full(*args: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(log_module, "_append_checkpoint", full)
    with pytest.raises(AuditUnavailable):
        log.append(**event_fields())
    monkeypatch.undo()
    log.append(**event_fields())
    assert [e.action for e in log.query()][2:] == [
        "dataset.read_for_training", "audit.unsigned_events_adopted", "dataset.read_for_training"]
    assert verify_log(audit_dir, key.public_key()).unsigned_events == 0


# -- real failures in a private mount namespace ------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, subprocess, sys
    from pathlib import Path
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from appliance.audit import AuditLog, verify_log
    from appliance.errors import AuditUnavailable
    mode, root = sys.argv[1], Path(sys.argv[2])
    key = Ed25519PrivateKey.generate()
    fields = dict(actor="alice", role="operator", action="dataset.read_sample",
                  resource="dataset:ds_1", decision="allow", reasons=["ok"],
                  details={"object_id": "o" * 100})
    result = {}
    if mode == "full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)], check=True)
        log = AuditLog(root / "audit", key)
        appended = 0
        try:
            while appended < 10000:
                log.append(**fields)
                appended += 1
        except AuditUnavailable as exc:
            result["error"] = str(exc)
        result["appended"] = appended
        report = verify_log(root / "audit", key.public_key())
        result["verified"] = report.events
        result["warnings"] = report.warnings
    else:
        log = AuditLog(root / "audit", key)
        log.append(**fields)
        subprocess.run(["mount", "--bind", str(root), str(root)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(root)], check=True)
        try:
            log.append(**fields)
        except AuditUnavailable as exc:
            result["error"] = str(exc)
        result["verified"] = verify_log(root / "audit", key.public_key()).events
    print(json.dumps(result))
""")


def run_in_private_mounts(mode: str, root: Path) -> dict[str, Any]:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to make a private mount namespace")
    root.mkdir()
    command = ["unshare", "--mount", "--", sys.executable, "-c", _CHILD, mode, str(root)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    if done.returncode != 0 and ("Operation not permitted" in done.stderr
                                 or "unshare failed" in done.stderr):
        pytest.skip(f"no private mount namespace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_real_full_disk(tmp_path: Path) -> None:
    """A 64 KiB tmpfs fills up: the append that does not fit raises, the rest verify."""
    result = run_in_private_mounts("full", tmp_path / "tiny")
    assert "No space left on device" in result["error"]
    assert 10 < result["appended"] < 10000
    # Either the events did not fit (cut back, nothing torn) or they did and their checkpoint
    # did not (durable but unsigned, which verify says and the next append records).
    assert result["verified"] >= result["appended"]
    assert all("not covered by a signed checkpoint" in w for w in result["warnings"])


def test_real_read_only_filesystem(tmp_path: Path) -> None:
    result = run_in_private_mounts("readonly", tmp_path / "ro")
    assert "Read-only file system" in result["error"]
    assert result["verified"] == 1
