"""Every allowed action that does not complete gets an outcome event naming its allow event."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.audit import verify_log
from appliance.crypto import load_public_key
from appliance.errors import AccessDenied, InvalidInput
from appliance.gate.outcomes import in_flight, process_alive, this_process


def _events(ctx: Any, resource: str) -> list[Any]:
    return sorted((e for e in ctx.audit.query(limit=1000) if e.resource == resource),
                  key=lambda e: e.seq)


def _verify(home: Path) -> None:
    verify_log(home / "audit", load_public_key(home / "keys" / "audit-signing.pub"))


def _ingest(ctx: Any, who: Any, stream: Any) -> Any:
    spec = ds.parse_spec({"task": "classification", "text_field": "text", "label_field": "label"})
    return ds.ingest_stream(ctx, who, stream, name="t", source_name="t.jsonl", fmt="jsonl",
                            spec=spec)


def _dataset_resource(ctx: Any) -> str:
    [allowed] = [e for e in ctx.audit.query(action="dataset.ingest", limit=100)
                 if e.decision == "allow"]
    return str(allowed.resource)


def test_a_failed_ingest_leaves_allow_then_failed_with_the_reason(
    ctx: Any, people: dict[str, Any], home: Path
) -> None:
    empty = b"".join(json.dumps({"label": "a", "body": f"x{i}"}).encode() + b"\n"
                     for i in range(3))  # no text field: nothing survives cleaning
    with pytest.raises(InvalidInput) as raised:
        _ingest(ctx, people["olivia"], io.BytesIO(empty))
    allowed, failed = _events(ctx, _dataset_resource(ctx))
    assert (allowed.action, allowed.decision) == ("dataset.ingest", "allow")
    assert failed.action == "dataset.ingest.failed" and failed.decision == "allow"
    assert failed.actor == "olivia" and failed.purpose == "ingest"
    assert failed.reasons == (str(raised.value),) and "no records" in failed.reasons[0]
    assert failed.details["outcome"] == "failed" and failed.details["error"] == "InvalidInput"
    assert failed.details["allowed_seq"] == allowed.seq
    assert failed.details["allowed_hash"] == allowed.hash
    assert in_flight(ctx) == [] and ds.list_datasets(ctx, people["olivia"]) == []
    _verify(home)


def test_an_interrupted_ingest_is_aborted_and_a_completed_one_has_no_outcome_event(
    ctx: Any, people: dict[str, Any], home: Path
) -> None:
    class CtrlC(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _ingest(ctx, people["olivia"], io.BufferedReader(CtrlC()))
    allowed, aborted = _events(ctx, _dataset_resource(ctx))
    assert aborted.action == "dataset.ingest.aborted" and aborted.details["outcome"] == "aborted"
    assert aborted.reasons == ("interrupted (KeyboardInterrupt)",)

    good = json.dumps({"text": "my card is lost", "label": "card"}).encode() + b"\n"
    result = _ingest(ctx, people["olivia"], io.BytesIO(good))
    actions = [e.action for e in _events(ctx, f"dataset:{result.dataset_id}")]
    assert actions == ["dataset.ingest", "dataset.stored"]  # completed: no outcome event
    assert in_flight(ctx) == []
    _verify(home)


def test_a_denied_action_is_its_own_outcome(ctx: Any, people: dict[str, Any]) -> None:
    good = json.dumps({"text": "hello", "label": "a"}).encode() + b"\n"
    with pytest.raises(AccessDenied):
        _ingest(ctx, people["audra"], io.BytesIO(good))  # auditors do not ingest
    [denied] = list(ctx.audit.query(action="dataset.ingest", limit=10))
    assert denied.decision == "deny"
    assert list(ctx.audit.query(action="dataset.ingest.failed", limit=10)) == []
    assert in_flight(ctx) == []


def test_a_process_killed_in_flight_is_reconciled_once_at_the_next_start(
    home: Path, people: dict[str, Any], tmp_path: Path
) -> None:
    from appliance.context import open_context

    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        from appliance.context import open_context
        from appliance.gate import Principal, begin_action
        ctx = open_context(sys.argv[1])
        begin_action(ctx, Principal("olivia", "operator"), "job.create",
                     {"type": "job", "id": "job_0123456789ab"}, "training")
        os.kill(os.getpid(), signal.SIGKILL)  # no chance to write an outcome
    """))
    done = subprocess.run([sys.executable, str(script), str(home)], check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == -9
    ctx = open_context(home)
    try:
        allowed, aborted = _events(ctx, "job:job_0123456789ab")
        assert allowed.action == "job.create" and aborted.action == "job.create.aborted"
        assert aborted.actor == "appliance" and aborted.role == "system"
        assert aborted.details["actor"] == "olivia"
        assert aborted.details["allowed_seq"] == allowed.seq
        assert in_flight(ctx) == []
    finally:
        ctx.close()
    again = open_context(home)
    try:
        assert len(_events(again, "job:job_0123456789ab")) == 2
    finally:
        again.close()
    _verify(home)


def test_a_reused_pid_is_not_taken_for_the_process_that_began_the_action() -> None:
    _, pid, started = this_process()
    assert process_alive(pid, started)
    assert not process_alive(pid, "1")  # same pid, another start time: another process
    assert not process_alive(2**22 + 12345, "")  # above pid_max: no such process
    assert pid == os.getpid()
