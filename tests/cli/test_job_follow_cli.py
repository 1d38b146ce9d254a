"""``job logs --follow``: one ``job.read`` event per watched stream, not one per poll."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.cli.main import main
from appliance.training import jobs, registry
from tests.training.tiny_models import make_tiny_bert


def test_follow_is_one_job_read_event(home: Path, ctx: Any, people: dict[str, Any],
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    base = make_tiny_bert(tmp_path / "tiny-bert")
    registry._insert(ctx, "tiny-bert", base, registry.directory_sha256(base))
    records = b"".join(json.dumps({"text": f"hello {i}", "label": "ab"[i % 2]}).encode() + b"\n"
                       for i in range(20))
    dataset = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(records), name="d",
                               source_name="d.jsonl", fmt="jsonl", spec=ds.parse_spec(
                                   {"task": "classification", "text_field": "text",
                                    "label_field": "label", "redact": False}))
    ds.approve_dataset(ctx, people["carol"], dataset.dataset_id)
    job = jobs.submit_job(ctx, people["olivia"], {  # queued; no worker is started here
        "task": "classification", "dataset_ids": [dataset.dataset_id],
        "base_model": "tiny-bert", "epochs": 1, "batch_size": 8})
    monkeypatch.setenv("APPLIANCE_TOKEN", people["olivia_token"])
    codes: list[int] = []
    follower = threading.Thread(target=lambda: codes.append(
        main(["--home", str(home), "job", "logs", job.job_id, "--follow"])))
    follower.start()
    time.sleep(3.5)  # three or four polls of a job that is not finished
    assert follower.is_alive()
    jobs.cancel_job(ctx, people["olivia"], job.job_id)
    follower.join(timeout=30)
    assert codes == [0]
    assert "queued by olivia" in capsys.readouterr().out
    reads = [e for e in ctx.audit.query(action="job.read", resource=f"job:{job.job_id}")
             if e.actor == "olivia"]
    assert len(reads) == 1, [e.time for e in reads]
