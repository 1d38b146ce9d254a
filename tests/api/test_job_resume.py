"""An interrupted job over HTTP: the API, the remote CLI backend and the console show it as
INTERRUPTED, ``POST /v1/jobs/{id}/resume`` resumes it, and resuming anything else is a 409."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import LiveServer, start_training_server, stop_server
from tests.api.test_training import follow, intent_records

pytestmark = pytest.mark.slow


@pytest.fixture
def live_training(tmp_path: Any) -> Iterator[LiveServer]:
    live = start_training_server(tmp_path)
    try:
        yield live
    finally:
        stop_server(live)


def _wait(predicate: Any, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_resume_an_interrupted_job_over_http(live_training: LiveServer) -> None:
    from appliance.cli.remote import RemoteClient
    from appliance.errors import Conflict
    from tests.web.test_console_http import Visitor

    live = live_training
    dataset_id = live.dataset("olivia", intent_records())
    approved = live.client("carol").post(f"/v1/datasets/{dataset_id}/approve", json={})
    assert approved.status_code == 200, approved.text
    olivia = live.client("olivia")
    created = olivia.post("/v1/jobs", json={
        "task": "classification", "dataset_ids": [dataset_id], "base_model": "tiny-bert",
        "epochs": 6, "batch_size": 8, "checkpoint_every_steps": 5})
    assert created.status_code == 201, created.text
    job_id = created.json()["job_id"]

    def running() -> dict[str, Any]:
        body: dict[str, Any] = olivia.get(f"/v1/jobs/{job_id}").json()
        return body

    _wait(lambda: running()["state"] == "RUNNING" and running()["has_checkpoint"])
    busy = olivia.post(f"/v1/jobs/{job_id}/resume")
    assert busy.status_code == 409 and "not interrupted" in busy.json()["detail"]
    pid = running()["pid"]
    os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)  # the server (a thread of this process) started it
    except ChildProcessError:
        pass

    shown = running()
    assert shown["state"] == "RUNNING" and shown["interrupted"] == f"worker {pid} is gone"
    listed = olivia.get("/v1/jobs", params={"state": "INTERRUPTED"}).json()
    assert [j["job_id"] for j in listed] == [job_id]
    remote = RemoteClient(live.url, live.tokens["olivia"])
    try:
        assert remote.get_job(job_id).display_state == "INTERRUPTED"
        console = Visitor(live)
        console.sign_in(live.tokens["olivia"])
        page = console.request("GET", f"/jobs/{job_id}").text
        assert "INTERRUPTED" in page and f"worker {pid} is gone" in page
        assert f"appliance job resume {job_id}" in page

        refused = live.client("audra").post(f"/v1/jobs/{job_id}/resume")
        assert refused.status_code == 403
        resumed = remote.resume_job(job_id)  # what `appliance job resume` sends
        assert resumed.state == "RUNNING" and resumed.interrupted is None
        assert resumed.pid not in (None, pid)
        events = follow(live, job_id)
        assert events[-1][0] == "end" and events[-1][1]["state"] == "SUCCEEDED"
        with pytest.raises(Conflict, match="is SUCCEEDED, not interrupted"):
            remote.resume_job(job_id)
    finally:
        remote.close()
    missing = olivia.post("/v1/jobs/job_000000000000/resume")
    assert missing.status_code == 404
