"""A real ingest killed with SIGKILL mid-redaction: no pool worker survives it, and the next process
to open the home sweeps its scratch file and audits its ingest as aborted; a live ingest's
scratch file and in-flight action survive another process's start-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from appliance.config import load_settings, save_settings

# An endless input, so the ingest is still redacting when it is killed. The pool keeps
# workers * 3 batches in flight and reads on only as results come back, so once more than
# (2 * 3 + 2) * 64 records were read, redacted batches have come back from the workers.
SCRIPT = textwrap.dedent("""
    import io, json, sys
    from appliance import datasets as ds
    from appliance.context import open_context
    from appliance.gate import Principal

    class Endless(io.RawIOBase):
        n = 0
        def readable(self):
            return True
        def readinto(self, buffer):
            line = json.dumps({"text": f"call Maria Gonzalez at 555-01{self.n:06d}",
                               "label": "a"}).encode() + b"\\n"
            self.n += 1
            if self.n == 600:
                print("redacting", flush=True)
            buffer[:len(line)] = line
            return len(line)

    if __name__ == "__main__":  # the pool's spawned workers import this file too
        ctx = open_context(sys.argv[1])
        spec = ds.parse_spec({"task": "classification", "text_field": "text",
                              "label_field": "label"})
        ds.ingest_stream(ctx, Principal("olivia", "operator"), io.BufferedReader(Endless()),
                         name="endless", source_name="endless.jsonl", fmt="jsonl", spec=spec,
                         workers=2, parallel_min_bytes=0)
""")


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def start_ingest(home: Path, tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "ingest.py"
    script.write_text(SCRIPT)
    process = subprocess.Popen([sys.executable, str(script), str(home)], stdout=subprocess.PIPE,
                               text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the pool has redacted batches
    assert line.strip() == "redacting", f"ingest ended early (rc {process.poll()})"
    return process


def scratch(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "tmp").iterdir())


def events(home: Path, action: str) -> list[Any]:
    from appliance.context import open_context

    ctx = open_context(home)
    try:
        return list(ctx.audit.query(action=action, limit=1000))
    finally:
        ctx.close()


@pytest.mark.slow
def test_a_killed_ingest_leaves_no_worker_and_is_swept_and_reconciled(
    home: Path, people: dict[str, Any], tmp_path: Path
) -> None:
    from appliance.audit import verify_log
    from appliance.context import open_context
    from appliance.crypto import load_public_key
    from appliance.gate.outcomes import in_flight

    settings = load_settings(home)
    save_settings(settings.model_copy(update={"ner_backend": "none"}))  # small, fast workers
    ingest = start_ingest(home, tmp_path)
    try:
        workers = children(ingest.pid)
        assert len(workers) >= 2, workers  # the pool (and multiprocessing's resource tracker)
        [dedupe] = [n for n in scratch(home) if n.startswith("dedupe-")]

        # another process starting meanwhile sweeps nothing of the live ingest's
        live = open_context(home)
        try:
            assert dedupe in scratch(home)
            [running] = in_flight(live)
            assert running["action"] == "dataset.ingest" and running["pid"] == ingest.pid
        finally:
            live.close()
        assert events(home, "dataset.ingest.aborted") == []
        assert events(home, "home.tmp.swept") == []

        ingest.send_signal(signal.SIGKILL)
        ingest.wait(timeout=30)
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    deadline = time.monotonic() + 20
    while [p for p in workers if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in workers if alive(p)] == []  # every child died with the ingest
    assert dedupe in scratch(home)  # what the kill left

    ctx = open_context(home)  # the next start-up
    try:
        assert scratch(home) == []
        [swept] = list(ctx.audit.query(action="home.tmp.swept", limit=10))
        assert swept.actor == "appliance" and swept.purpose == "recovery"
        assert list(swept.details["names"]) == [dedupe]
        assert swept.details["removed_dedupe"] == 1 and not swept.details["names_truncated"]
        assert swept.details["removed_vault"] >= 1  # the dataset object being written
        assert swept.details["removed"] == 1 + swept.details["removed_vault"]
        [allowed] = [e for e in ctx.audit.query(action="dataset.ingest", limit=10)
                     if e.decision == "allow"]
        [aborted] = list(ctx.audit.query(action="dataset.ingest.aborted", limit=10))
        assert aborted.resource == allowed.resource and aborted.details["actor"] == "olivia"
        assert aborted.details["allowed_seq"] == allowed.seq
        assert aborted.details["allowed_hash"] == allowed.hash
        assert f"process {ingest.pid} ended before" in aborted.reasons[0]
        assert in_flight(ctx) == []
        assert ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0] == 0
    finally:
        ctx.close()

    again = open_context(home)  # reconciled once: a second start-up adds nothing
    try:
        assert len(list(again.audit.query(action="dataset.ingest.aborted", limit=10))) == 1
        assert len(list(again.audit.query(action="home.tmp.swept", limit=10))) == 1
        verify_log(home / "audit", load_public_key(home / "keys" / "audit-signing.pub"))
    finally:
        again.close()
    assert not json.dumps([e.as_dict() for e in events(home, "home.tmp.swept")]).count("Maria")


def test_a_redaction_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """The initializer's prctl, checked on a process that does nothing but wait."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, sys, time
        from appliance.process import die_with_parent

        def child(armed):
            die_with_parent()
            open(armed, "w").close()
            time.sleep(120)

        if __name__ == "__main__":
            process = multiprocessing.get_context("spawn").Process(target=child,
                                                                   args=(sys.argv[1],))
            process.start()
            print(process.pid, flush=True)
            time.sleep(120)
    """))
    armed = tmp_path / "armed"
    parent = subprocess.Popen([sys.executable, str(script), str(armed)], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).resolve().parents[2])
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 60
    while not armed.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert armed.exists()
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
