"""The worker process: ``python -m appliance.training.worker JOB_ID --home HOME``.

It claims the job (QUEUED, or RUNNING with a dead worker: a resume, which the policy decides and
the audit log records as ``job.resume``), re-checks that every dataset is APPROVED, reads the
records through the gate (purpose ``training``, the job id in the audit details), runs the ML core
with hooks that write progress and logs to the database, poll for a cancel or a revoked dataset,
and store checkpoints encrypted in the vault, and finally stores the model and its card. SIGTERM
checkpoints and leaves the job RUNNING, to resume on the next start.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import ApplianceError, Conflict
from appliance.gate import Principal, authorize, read_object
from appliance.training import jobs
from appliance.training.config import parse_job_config
from appliance.training.jobs import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, JobInfo

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.training.inputs import DatasetInput
    from appliance.training.trainer import Judge

CHECKPOINT_KIND = "checkpoint"
#: The held-out side-by-side examples of a generative model (redacted record text).
EXAMPLES_KIND = "model_examples"
#: The answers compliance approved as stored as given (an SFT response field kept at ingest).
ANSWERS_KIND = "model_answers"
#: How often the cancel flag is read, at most (one small query).
CANCEL_POLL_S = 0.5


def main(argv: Sequence[str] | None = None) -> int:
    from appliance.process import run_worker

    def run(ctx: Context, job_id: str) -> bool:
        job = run_job(ctx, job_id)
        return job is None or job.state in (SUCCEEDED, RUNNING)

    return run_worker("appliance.training.worker", "job_id", argv, run)


def run_job(ctx: Context, job_id: str) -> JobInfo | None:
    """Run (or resume) one job to its end; None when another worker owns it or it finished."""
    claimed = claim(ctx, job_id)
    if claimed is None:
        return None
    job, resumed = claimed
    runner = JobRunner(ctx, job, resumed=resumed)
    previous = signal.signal(signal.SIGTERM, runner.on_sigterm) if _main_thread() else None
    try:
        runner.run()
    except ApplianceError as exc:
        runner.fail(str(exc))
    except Exception as exc:  # a bug or a library failure: the job fails, the worker exits
        runner.fail(f"internal error: {type(exc).__name__}: {str(exc)[:300]}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return jobs.load_job(ctx, job_id)


def claim(ctx: Context, job_id: str) -> tuple[JobInfo, bool] | None:
    """Own the job: (the job, whether this is a resume of an interrupted run), or None."""
    with transaction(ctx.conn):
        row = ctx.conn.execute("SELECT state, pid FROM jobs WHERE job_id=?", (job_id,)).fetchone()
        if row is None:
            raise Conflict(f"no job {job_id}")
        mine = os.getpid()
        if row["state"] == QUEUED:
            ctx.conn.execute(
                "UPDATE jobs SET state=?, pid=?, started_at=?, heartbeat_at=? WHERE job_id=?",
                (RUNNING, mine, ctx.now(), ctx.now(), job_id),
            )
            resumed = False
        elif row["state"] == RUNNING and (
            row["pid"] == mine or not jobs.worker_alive(row["pid"], job_id)
        ):  # a resume: started by recover_jobs (our pid), or found orphaned
            ctx.conn.execute(
                "UPDATE jobs SET pid=?, heartbeat_at=? WHERE job_id=?", (mine, ctx.now(), job_id)
            )
            resumed = True
        else:
            return None
    return jobs.load_job(ctx, job_id), resumed


class JobRunner:
    def __init__(self, ctx: Context, job: JobInfo, resumed: bool = False) -> None:
        self.ctx = ctx
        self.job = job
        self.resumed = resumed
        self.principal = Principal(job.created_by, job.created_role)
        self.config = parse_job_config(job.config)
        self.checkpoint_id: str | None = _checkpoint_id(ctx, job.job_id)
        self.steps_seen = 0
        self.terminated = False
        self._last_cancel_poll = 0.0
        self._cancelled = False

    def log(self, line: str) -> None:
        jobs.append_log(self.ctx, self.job.job_id, line)

    def on_sigterm(self, signum: int, frame: Any) -> None:
        self.terminated = True

    def run(self) -> None:
        from appliance.training.engine import library_versions, run_training
        from appliance.training.models import store_model
        from appliance.training.registry import open_base_model
        from appliance.training.trainer import TrainHooks

        job, ctx = self.job, self.ctx
        if job.cancel_requested:
            self.finish(CANCELLED)
            return
        for dataset_id in job.dataset_ids:
            jobs.check_dataset_approved(ctx, dataset_id)  # refuse to start
        base = open_base_model(ctx, job.base_model or "")
        resume = self.authorize_resume() if self.resumed or self.checkpoint_id else None
        if resume is not None:
            self.log("resuming from the last checkpoint")
        else:
            self.log("restarting: no checkpoint was saved" if self.resumed else "starting")
        datasets = self.read_datasets()
        hooks = TrainHooks(
            on_progress=self.on_progress,
            on_curve=self.on_curve,
            log=self.log,
            should_stop=self.should_stop,
            save_checkpoint=self.save_checkpoint,
            checkpoint_interval_s=self.config.checkpoint_interval_s,
            checkpoint_every_steps=self.config.checkpoint_every_steps,
            judge=self.open_judge(),
        )
        outcome = run_training(
            self.config, datasets, base, hooks, resume=resume, scratch_dir=ctx.home / "tmp"
        )
        record: dict[str, Any] = {"recipe": outcome.recipe, "split": outcome.split}
        if outcome.status == "succeeded":
            self.seal_examples(outcome.metrics)
            self.seal_approved_answers(datasets, outcome.metrics)
            model_id = store_model(
                ctx, jobs.load_job(ctx, job.job_id), outcome, datasets, base, library_versions()
            )
            self.log(f"model {model_id} stored (encrypted); took {outcome.duration_s:.0f}s")
            self.finish(SUCCEEDED, model_id=model_id, metrics=outcome.metrics, **record)
            self.drop_checkpoint()
        elif outcome.status == "cancelled":
            self.log("cancelled; the last checkpoint is kept")
            self.finish(CANCELLED, **record)
        elif outcome.status == "interrupted":
            self.log("worker told to stop; the job resumes from its checkpoint on restart")
            jobs.update_job(ctx, job.job_id, pid=None, **record)
        else:
            self.drop_checkpoint()  # progress made on data that is no longer approved
            self.finish(FAILED, error=f"stopped: {outcome.reason}", **record)

    def open_judge(self) -> Judge | None:
        """The job's reward model (``reward_model``), decrypted through the gate, or None."""
        if self.config.reward_model is None:
            return None
        from appliance.training.models import reward_judge

        judge = reward_judge(self.ctx, self.principal, self.config.reward_model, self.job.job_id)
        self.log(f"reward model {judge.model_id} read through the gate")
        return judge

    def read_datasets(self) -> list[DatasetInput]:
        from appliance.datasets import get_dataset, read_records
        from appliance.training.inputs import DatasetInput

        out = []
        for dataset_id in self.job.dataset_ids:
            info = get_dataset(self.ctx, dataset_id)
            records = list(
                read_records(
                    self.ctx,
                    self.principal,
                    dataset_id,
                    purpose="training",
                    details={"job_id": self.job.job_id},
                )
            )
            fields = {k: str(v) for k, v in info.spec.items() if k.endswith("_field") and v}
            out.append(DatasetInput(dataset_id, info.name, info.content_hash, records, fields))
        self.log(
            "read "
            + ", ".join(f"{d.dataset_id} ({len(d.records)} records)" for d in out)
            + " through the gate"
        )
        return out

    # -- hooks --------------------------------------------------------------------------------

    def on_progress(self, progress: dict[str, Any]) -> None:
        jobs.update_job(self.ctx, self.job.job_id, progress=progress, heartbeat_at=self.ctx.now())

    def seal_examples(self, metrics: dict[str, Any]) -> None:
        """Side-by-side examples hold (redacted) record text: the vault keeps them encrypted, and
        the card and the job row, which are plain JSON in the database, keep only their object
        id and count (DESIGN.md invariant 2: no record text at rest unencrypted)."""
        generation = metrics.get("generation")
        if not isinstance(generation, dict):
            return
        examples = generation.pop("examples", None)
        if examples:
            text = json.dumps(examples, sort_keys=True).encode("utf-8")
            generation["examples_object_id"] = self.ctx.vault.put(EXAMPLES_KIND, [text])
            generation["examples_count"] = len(examples)

    def seal_approved_answers(self, datasets: list[DatasetInput],
                              metrics: dict[str, Any]) -> None:
        """A generative model trained on answers kept as given (intent or category names a
        compliance officer approved) may say them: the output guard lets exactly those answers
        through (:func:`appliance.training.guard.approved_answers`). They are record values, so
        the vault keeps them; the card keeps the object id and the count."""
        from appliance.datasets import get_dataset
        from appliance.training.guard import approved_answers
        from appliance.training.tasks import get_task

        if get_task(self.config.task).model_kind != "causal":
            return
        answers: set[str] = set()
        for dataset in datasets:
            spec = get_dataset(self.ctx, dataset.dataset_id).spec
            field = spec.get("response_field")
            if not field or field not in spec.get("keep_fields", []):
                continue
            found = approved_answers(dataset.records, field)
            if found is None:
                self.log(f"{dataset.dataset_id}: its kept '{field}' answers are too many or too "
                         "long to be names; the output guard reads them like any text")
                continue
            answers.update(found)
        if answers:
            text = json.dumps(sorted(answers)).encode("utf-8")
            metrics["guard"] = {"approved_answers": len(answers),
                                "approved_answers_object_id":
                                    self.ctx.vault.put(ANSWERS_KIND, [text])}

    def on_curve(self, curve: list[dict[str, Any]]) -> None:
        """The loss curve so far, kept with the job while it runs (its final metrics replace
        it, with the whole curve, when it succeeds); steps and losses only, no record text."""
        jobs.update_job(self.ctx, self.job.job_id, metrics={"train": {"curve": curve}})

    def should_stop(self) -> str | None:
        from appliance.training.trainer import CANCELLED as CANCEL_REASON
        from appliance.training.trainer import INTERRUPTED

        self.steps_seen += 1
        if self.terminated:
            return INTERRUPTED
        now = time.monotonic()
        if now - self._last_cancel_poll >= CANCEL_POLL_S:
            self._last_cancel_poll = now
            row = self.ctx.conn.execute(
                "SELECT cancel_requested FROM jobs WHERE job_id=?", (self.job.job_id,)
            ).fetchone()
            self._cancelled = bool(row[0])
        if self._cancelled:
            return CANCEL_REASON
        if self.steps_seen % self.config.approval_check_every_steps == 0:
            for dataset_id in self.job.dataset_ids:
                try:
                    jobs.check_dataset_approved(self.ctx, dataset_id)
                except ApplianceError as exc:
                    self.log(f"stopping: {exc}")
                    return str(exc)
        return None

    def save_checkpoint(self, data: bytes) -> None:
        """Encrypt into a new vault object, point the job at it, then shred the old one."""
        new_id = self.ctx.vault.put(CHECKPOINT_KIND, [data])
        old_id, self.checkpoint_id = self.checkpoint_id, new_id
        jobs.update_job(self.ctx, self.job.job_id, checkpoint_object_id=new_id)
        if old_id:
            self.ctx.vault.shred(old_id)
        self.log(f"checkpoint saved ({len(data) / 1e6:.1f} MB, encrypted)")

    def authorize_resume(self) -> bytes | None:
        """Resuming an interrupted job is its own decision (``job.resume``, as the job's owner),
        audited as such, so the log tells a resume from a new job. With a checkpoint, the gate
        decides, audits and decrypts it in one step; without one, training restarts from the
        beginning, after the same decision. Returns the checkpoint bytes, if any."""
        resource = {
            "type": "job",
            "id": self.job.job_id,
            "state": self.job.state,
            "created_by": self.job.created_by,
        }
        details = {"job_id": self.job.job_id, "checkpoint": self.checkpoint_id is not None}
        if self.checkpoint_id is None:
            authorize(self.ctx, self.principal, "job.resume", resource, "training", details)
            return None
        return read_object(
            self.ctx,
            self.principal,
            "job.resume",
            resource,
            self.checkpoint_id,
            "training",
            details,
        )

    def drop_checkpoint(self) -> None:
        if self.checkpoint_id:
            jobs.update_job(self.ctx, self.job.job_id, checkpoint_object_id=None)
            self.ctx.vault.shred(self.checkpoint_id)
            self.checkpoint_id = None

    def fail(self, error: str) -> None:
        """A failed job is final: its checkpoint can never be resumed, so it is shredded."""
        try:
            self.drop_checkpoint()
        finally:
            self.finish(FAILED, error=error)

    def finish(self, state: str, error: str | None = None, **columns: Any) -> None:
        jobs.update_job(
            self.ctx,
            self.job.job_id,
            state=state,
            error=error,
            finished_at=self.ctx.now(),
            pid=None,
            **columns,
        )
        self.log(f"{state.lower()}" + (f": {error}" if error else ""))


def _checkpoint_id(ctx: Context, job_id: str) -> str | None:
    row = ctx.conn.execute(
        "SELECT checkpoint_object_id FROM jobs WHERE job_id=?", (job_id,)
    ).fetchone()
    return None if row is None else row[0]


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
