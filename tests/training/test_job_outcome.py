"""A finished job reports how it ended, not its last progress report."""

from __future__ import annotations

from typing import Any

from appliance.training.jobs import JobInfo


def job(state: str, **fields: Any) -> JobInfo:
    values: dict[str, Any] = dict(
        job_id="job_1", kind="train", task="classification", state=state, config={},
        dataset_ids=["ds_a"], base_model="b", created_by="olivia", created_role="operator",
        created_at="2025-01-01T10:00:00+00:00", started_at="2025-01-01T10:00:05+00:00",
        finished_at="2025-01-01T10:00:46+00:00", pid=None,
        progress={"phase": "evaluating", "step": 32, "total": 32, "epoch": 4.0},
        metrics={}, recipe={}, split={}, error=None, model_id=None, cancel_requested=False,
        has_checkpoint=False)
    values.update(fields)
    return JobInfo(**values)


def test_succeeded_job_reads_succeeded_with_time_steps_and_epochs() -> None:
    done = job("SUCCEEDED", metrics={"train": {"steps": 32, "epochs": 4.0}})
    assert done.summary()["progress"] == "succeeded in 41 s, 32 steps, 4 epochs"
    assert "evaluating" not in done.summary()["progress"]


def test_running_job_still_shows_its_progress() -> None:
    running = job("RUNNING", finished_at=None,
                  progress={"phase": "training", "step": 5, "total": 32, "loss": 0.5})
    assert running.summary()["progress"] == "training 5/32 loss 0.5000"


def test_cancelled_job_without_metrics_uses_its_last_progress() -> None:
    cancelled = job("CANCELLED", progress={"phase": "training", "step": 7, "total": 32,
                                           "epoch": 0.875})
    assert cancelled.summary()["progress"] == "cancelled in 41 s, 7 steps, 0.88 epochs"
