"""``appliance worker``: the long-running job runner drains the queue, one process per job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.cli.main import main
from appliance.training import jobs
from tests.training.conftest import intent_records


def test_runner_runs_queued_jobs_then_exits_when_drained(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    dataset_id = make_dataset(intent_records(n_per_label=10))
    job = jobs.submit_job(
        ctx,
        people["olivia"],
        {
            "task": "classification",
            "dataset_ids": [dataset_id],
            "base_model": "tiny-bert",
            "method": "lora",
            "epochs": 1,
            "batch_size": 8,
            "max_length": 16,
        },
    )
    assert main(["--home", str(ctx.home), "worker", "--once", "--poll-seconds", "0.1"]) == 0
    done = jobs.load_job(ctx, job.job_id)
    assert done.state == "SUCCEEDED", done.error
    assert done.model_id
