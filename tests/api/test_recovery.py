"""At start-up the service restarts the workers of jobs a crash left behind."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import make_home, start_server, stop_server


def _orphaned_jobs(home: Path) -> dict[str, str]:
    """A RUNNING job whose worker died, a QUEUED one whose worker died before claiming it,
    and a QUEUED one no worker was ever started for (it waits for its own start)."""
    from appliance import datasets as ds
    from appliance.context import open_context
    from appliance.gate import Principal
    from appliance.training import jobs, registry

    dead = subprocess.Popen(["true"])  # noqa: S607
    dead.wait()
    ctx = open_context(home)
    try:
        olivia = Principal("olivia", "operator")
        data = b"".join(json.dumps({"text": f"ticket {i}", "label": "a" if i % 2 else "b"})
                        .encode() + b"\n" for i in range(12))
        result = ds.ingest_stream(
            ctx, olivia, io.BytesIO(data), name="t", source_name="t.jsonl", fmt="jsonl",
            spec=ds.parse_spec({"task": "classification", "text_field": "text",
                                "label_field": "label", "redact": False}))
        ds.approve_dataset(ctx, Principal("carol", "compliance"), result.dataset_id, "ok")
        registry._insert(ctx, "some-base", home, "0" * 64)  # never loaded: workers are faked
        config = {"task": "classification", "dataset_ids": [result.dataset_id],
                  "base_model": "some-base"}
        ids = {name: jobs.submit_job(ctx, olivia, config).job_id
               for name in ("running", "queued", "waiting")}
        jobs.update_job(ctx, ids["running"], state="RUNNING", pid=dead.pid,
                        started_at=ctx.now())
        jobs.update_job(ctx, ids["queued"], pid=dead.pid)
    finally:
        ctx.close()
    return ids


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from appliance.training import jobs

    calls: list[str] = []

    def fake_start_worker(ctx: Any, job_id: str) -> int:
        calls.append(job_id)
        return 4_000_000 + len(calls)  # no such process: nothing really runs

    monkeypatch.setattr(jobs, "start_worker", fake_start_worker)
    return calls


def test_serve_restarts_workers_of_interrupted_jobs(tmp_path: Path, started: list[str]) -> None:
    home, _ = make_home(tmp_path)
    ids = _orphaned_jobs(home)
    server = start_server(home)
    try:
        assert sorted(started) == sorted([ids["running"], ids["queued"]])
    finally:
        stop_server(server)
    from appliance.context import open_context
    from appliance.gate import Principal
    from appliance.training import jobs

    ctx = open_context(home)
    try:
        job = jobs.load_job(ctx, ids["running"])
        assert job.state == "RUNNING" and job.pid in (4_000_001, 4_000_002)
        lines = [e["line"] for e in jobs.job_logs(ctx, Principal("olivia", "operator"),
                                                  ids["running"])]
        assert lines[-1].endswith(f"is gone; worker {job.pid} resumes it")
        assert jobs.load_job(ctx, ids["waiting"]).pid is None
    finally:
        ctx.close()


def test_an_external_worker_service_recovers_instead(tmp_path: Path,
                                                     started: list[str]) -> None:
    home, _ = make_home(tmp_path)
    _orphaned_jobs(home)
    server = start_server(home, start_job_workers=False)
    stop_server(server)
    assert started == []
