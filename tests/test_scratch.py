"""Scratch entries in tmp/: a live (locked) entry survives any sweep; a dead one is swept once."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

import pytest

from appliance.scratch import make_scratch, scratch_kind, sweep_scratch


def test_a_live_entry_survives_a_sweep_and_a_dead_one_does_not(tmp_path: Path) -> None:
    live_file = make_scratch(tmp_path, "dedupe", directory=False, suffix=".db")
    live_dir = make_scratch(tmp_path, "trainer")
    (live_dir.path / "runs").mkdir()
    # what a killed process left: same names, nobody holds their lock
    (tmp_path / "dedupe-00112233aabbccdd.db").write_bytes(b"digests")
    (tmp_path / "trainer-abc_1234").mkdir()  # an older release's mkdtemp name
    (tmp_path / "trainer-abc_1234" / "trainer_state.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("not ours")
    (tmp_path / "export-zzzzzzzzzzzz").symlink_to(tmp_path / "notes.txt")

    swept = sweep_scratch(tmp_path)

    assert swept == ["dedupe-00112233aabbccdd.db", "trainer-abc_1234"]
    assert live_file.path.exists() and (live_dir.path / "runs").is_dir()
    assert (tmp_path / "notes.txt").read_text() == "not ours"  # unknown names are left alone
    assert (tmp_path / "export-zzzzzzzzzzzz").is_symlink()  # never followed
    assert sweep_scratch(tmp_path) == []
    live_file.remove()
    live_dir.remove()
    assert not live_file.path.exists() and not live_dir.path.exists()
    live_dir.remove()  # idempotent


def test_an_entry_held_by_another_open_file_is_live(tmp_path: Path) -> None:
    """flock belongs to the open file: another process's lock looks exactly like this one."""
    leftover = tmp_path / "verify-0011223344556677"
    leftover.mkdir()
    fd = os.open(leftover, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert sweep_scratch(tmp_path) == []
    finally:
        os.close(fd)
    assert sweep_scratch(tmp_path) == ["verify-0011223344556677"]


def test_an_entry_swept_before_it_was_locked_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between creating an entry and locking it: a sweep that takes it then must
    not leave the writer with a lock on a name that is gone."""
    real_flock = fcntl.flock
    raced: list[str] = []
    calls: list[int] = []

    def sweep_first(fd: int, operation: int) -> Any:
        calls.append(operation)
        if len(calls) == 1:  # the writer's first lock: a sweep gets in just before it
            raced.extend(sweep_scratch(tmp_path))
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", sweep_first)
    entry = make_scratch(tmp_path, "dedupe", directory=False, suffix=".db")
    monkeypatch.undo()
    assert len(raced) == 1 and raced[0] != entry.path.name  # the first one was swept
    assert entry.path.exists() and sweep_scratch(tmp_path) == []
    entry.remove()


def test_names_and_kinds() -> None:
    with pytest.raises(ValueError, match="unknown scratch entry"):
        make_scratch(Path("/nonexistent"), "keys")
    assert scratch_kind("trainer-0123456789abcdef") == "trainer"
    assert scratch_kind("vault-obj_x.part") == "other"


def test_a_sweep_that_cannot_be_audited_removes_nothing_and_the_home_still_opens(
    home: Path, people: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from appliance.context import open_context
    from appliance.errors import AuditUnavailable

    leftover = home / "tmp" / "dedupe-00112233aabbccdd.db"
    leftover.write_bytes(b"digests")
    segment = home / "audit" / "segment-000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    segment.write_bytes(b"".join(lines[:-1]))  # an event cut from the end: the log is damaged

    ctx = open_context(home)  # opens (so that `audit verify` can run), and says why not swept
    try:
        assert leftover.exists()  # not audited, so not removed
        assert "start-up recovery" in caplog.text and "was not completed" in caplog.text
        with pytest.raises(AuditUnavailable):
            ctx.audit.append(actor="x", role="operator", action="t.t", resource="r:1",
                             purpose="p", decision="allow", reasons=[], policy_hash="",
                             details={})
    finally:
        ctx.close()
