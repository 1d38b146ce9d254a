"""The demo's training step: a classifier on the approved tickets, then a two-person export."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.context import Context
from appliance.crypto import load_public_key
from appliance.errors import AccessDenied, IntegrityError
from appliance.gate import Principal
from appliance.training import export, jobs, models

#: Keeps the demo well under five minutes on two CPU cores.
DEMO_TIME_BUDGET_S = 75


def run_job(ctx: Context, job: jobs.JobInfo, say: Callable[[str], None]) -> jobs.JobInfo:
    """Start the job's worker and narrate it until it ends; a failed job stops the demo."""
    jobs.start_worker(ctx, job.job_id)
    last: dict[str, Any] = {"state": "", "at": 0.0}

    def show(update: Any) -> None:
        # a line per state change, and at most one progress line every 15 seconds
        now = time.monotonic()
        if update.state != last["state"] or now - float(last["at"]) >= 15:
            last.update(state=update.state, at=now)
            say(f"  {update.state} {update.summary()['progress']}".rstrip())

    final = jobs.wait_for_job(ctx, job.job_id, on_update=show, poll_s=2.0)
    if final.state != "SUCCEEDED" or not final.model_id:
        raise RuntimeError(f"demo training job ended {final.state}: {final.error}")
    return final


def train_and_export(
    ctx: Context, people: dict[str, Principal], dataset_id: str, say: Callable[[str], None]
) -> dict[str, Any]:
    operator, compliance = people["olivia"], people["carol"]
    job = jobs.submit_job(ctx, operator, {
        "task": "classification", "dataset_ids": [dataset_id], "text_field": "text",
        "label_field": "category", "time_budget_s": DEMO_TIME_BUDGET_S})
    say(f"job {job.job_id} queued (defaults: the recipe picks method, rate and epochs)")
    final = run_job(ctx, job, say)
    assert final.model_id is not None  # run_job raised otherwise
    test = final.metrics.get("test", {})
    say(f"model {final.model_id}: test accuracy {test.get('accuracy', 0):.3f}, "
        f"macro F1 {test.get('macro_f1', 0):.3f}")
    samples = ["I was charged twice this month, please refund me",
               "the app crashes when I open the dashboard"]
    for text, result in zip(samples, models.predict(ctx, operator, final.model_id, samples),
                            strict=True):
        say(f"  predict {text!r} -> {result['label']} ({result['score']:.2f})")

    say("export: the operator requests, compliance approves, the operator downloads")
    request = export.request_export(ctx, operator, final.model_id)
    try:
        export.approve_export(ctx, operator, request.export_id)
    except AccessDenied as denied:
        say(f"  the requester approving its own export: DENIED ({denied.reasons[0]})")
    export.approve_export(ctx, compliance, request.export_id, "metrics reviewed")
    out = Path(tempfile.mkdtemp(prefix="appliance-export-")) / f"{request.export_id}.tar"
    export.download_export(ctx, operator, request.export_id, out)
    public_key = load_public_key(ctx.home / "keys" / "audit-signing.pub")
    report = export.verify_bundle(out, public_key)
    say(f"  bundle {out} verified: manifest signed, every file's SHA-256 matches"
        f" (model {report.get('model_id')}, requested by {report.get('requested_by')},"
        f" approved by {report.get('approved_by')})")
    tampered = out.with_suffix(".tampered.tar")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    try:
        export.verify_bundle(tampered, public_key)
        caught = False
    except IntegrityError as exc:
        caught = True
        say(f"  one flipped bit in a copy: verify FAILED as it should ({exc})")
    return {"job_id": job.job_id, "model_id": final.model_id, "test_metrics": test,
            "export_id": request.export_id, "bundle": str(out), "bundle_tamper_detected": caught}
