"""Training jobs: the ``jobs`` and ``job_logs`` tables, state changes, and worker processes.

States: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED. One worker process per job
(``python -m appliance.training.worker JOB_ID --home HOME``) owns a RUNNING job and records its pid;
a RUNNING job whose pid is gone was interrupted (crash, kill, reboot): it is shown as INTERRUPTED
(:attr:`JobInfo.interrupted` says why) until :func:`recover_jobs` (``appliance serve`` at
start-up, the ``appliance worker`` runner, ``job run --wait``) or :func:`resume_job`
(``appliance job resume``) starts a new worker for it, which resumes from the last encrypted
checkpoint. Workers run in a session of their own, so they outlive whatever started them (a CLI
command, a restarted ``serve``) by design; the next start-up finds them alive and leaves them be.
This module imports no torch: listing or cancelling jobs stays fast.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import Conflict, InvalidInput, NotFound
from appliance.gate import Principal, authorize, begin_action, tracks_outcome
from appliance.training.config import JobConfig, parse_job_config
from appliance.training.registry import get_base_model
from appliance.training.tasks import get_task

if TYPE_CHECKING:
    from appliance.context import Context

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "CANCELLED",
)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
#: How ``job list``, ``job show`` and the console show a RUNNING job whose worker is gone.
INTERRUPTED = "INTERRUPTED"
APPROVED = "APPROVED"  # the dataset state training needs (appliance.datasets.APPROVED)
WORKER_MODULE = "appliance.training.worker"

_COLUMNS = (
    "job_id, kind, task, state, config, dataset_ids, created_by, created_role, created_at, "
    "started_at, finished_at, pid, progress, metrics, error, checkpoint_object_id, model_id, "
    "cancel_requested, base_model, split, recipe, heartbeat_at"
)


@dataclass(frozen=True)
class JobInfo:
    """A job as ``job show`` reports it (never any record contents)."""

    job_id: str
    kind: str
    task: str
    state: str
    config: dict[str, Any]
    dataset_ids: list[str]
    base_model: str | None
    created_by: str
    created_role: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None
    progress: dict[str, Any]
    metrics: dict[str, Any]
    recipe: dict[str, Any]
    split: dict[str, Any]
    error: str | None
    model_id: str | None
    cancel_requested: bool
    has_checkpoint: bool
    #: Why a RUNNING job is not running (its worker is gone), or None; see :func:`resume_job`.
    interrupted: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def display_state(self) -> str:
        """The state, or INTERRUPTED for a RUNNING job that no worker runs."""
        return INTERRUPTED if self.interrupted else self.state

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The columns of ``job list``."""
        return {
            k: getattr(self, k)
            for k in (
                "job_id",
                "kind",
                "task",
                "state",
                "base_model",
                "created_by",
                "created_at",
                "model_id",
            )
        } | {"progress": self.outcome() if self.finished else _progress_text(self.progress),
             "state": self.display_state} | (
            {"interrupted": f"{self.interrupted}; resume it with: appliance job resume "
                            f"{self.job_id}"} if self.interrupted else {})

    def outcome(self) -> str:
        """How a finished job ended, e.g. "succeeded in 41 s, 36 steps, 3 epochs" (its last
        progress report, "evaluating 36/36", is no longer what it is doing)."""
        train = self.metrics.get("train", {}) if self.metrics else {}
        steps = train.get("steps", self.progress.get("step"))
        epochs = train.get("epochs", self.progress.get("epoch"))
        text = self.state.lower()
        if self.started_at and self.finished_at:
            seconds = (_parse_time(self.finished_at) - _parse_time(self.started_at)).total_seconds()
            text += f" in {max(0, round(seconds))} s"
        if isinstance(steps, int | float):
            text += f", {int(steps)} step{'s' if steps != 1 else ''}"
        if isinstance(epochs, int | float):
            text += f", {round(epochs, 2):g} epoch{'s' if epochs != 1 else ''}"
        return text


def new_job_id() -> str:
    return "job_" + secrets.token_hex(6)


@tracks_outcome  # refused after the allow (no base, dataset not approved): job.create.failed
def submit_job(ctx: Context, principal: Principal, config: JobConfig | dict[str, Any]) -> JobInfo:
    """Queue a job; it refuses to queue unless every dataset is APPROVED and the base exists."""
    if isinstance(config, dict):
        config = parse_job_config(config)
    task = get_task(config.task)
    job_id = new_job_id()
    action = begin_action(
        ctx,
        principal,
        "job.create",
        {"type": "job", "id": job_id},
        "training",
        {"task": config.task, "datasets": config.dataset_ids, "kind": config.kind},
    )
    base_name = config.base_model or task.default_base_model
    if base_name is None:
        raise InvalidInput(f"task '{config.task}' has no default base model; name one")
    get_base_model(ctx, base_name)  # NotFound names the registered ones
    config = config.model_copy(update={"base_model": base_name})
    for dataset_id in config.dataset_ids:
        check_dataset_approved(ctx, dataset_id)
    if config.reward_model is not None:
        from appliance.training.models import reward_model_info

        # the worker decrypts it through the gate when the job starts (the right to score is
        # decided then); here only that it is one
        reward_model_info(ctx, config.reward_model)
    now = ctx.now()
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO jobs(job_id, kind, task, state, config, dataset_ids, created_by,"
            " created_role, created_at, base_model) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                job_id,
                config.kind,
                config.task,
                QUEUED,
                config.to_json(),
                json.dumps(config.dataset_ids),
                principal.name,
                principal.role,
                now,
                base_name,
            ),
        )
        action.complete()  # in the same transaction: the job exists iff its creation completed
    append_log(
        ctx,
        job_id,
        f"queued by {principal.name}: {config.kind} {config.task} on "
        f"{', '.join(config.dataset_ids)} with base {base_name}",
    )
    return load_job(ctx, job_id)


def check_dataset_approved(ctx: Context, dataset_id: str) -> None:
    """Raise :class:`Conflict` unless the dataset exists and is APPROVED right now."""
    row = ctx.conn.execute(
        "SELECT state FROM datasets WHERE dataset_id=?", (dataset_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no dataset {dataset_id}")
    if row["state"] != APPROVED:
        raise Conflict(f"dataset {dataset_id} is {row['state']}, not APPROVED: training refused")


def get_job(ctx: Context, principal: Principal, job_id: str) -> JobInfo:
    job = load_job(ctx, job_id)
    authorize(
        ctx,
        principal,
        "job.read",
        {"type": "job", "id": job_id, "created_by": job.created_by},
        "metadata",
    )
    return job


def list_jobs(ctx: Context, principal: Principal, state: str | None = None) -> list[JobInfo]:
    authorize(
        ctx,
        principal,
        "job.read",
        {"type": "job", "id": "*"},
        "metadata",
        {"state": state or "any"},
    )
    wanted = state.upper() if state else None
    query = f"SELECT {_COLUMNS} FROM jobs"  # noqa: S608
    args: tuple[str, ...] = ()
    if wanted:
        query += " WHERE state=?"
        args = (RUNNING if wanted == INTERRUPTED else wanted,)
    rows = ctx.conn.execute(query + " ORDER BY created_at, job_id", args).fetchall()
    found = [_info(r) for r in rows]
    if wanted in (RUNNING, INTERRUPTED):  # as shown: an interrupted job is not running
        found = [j for j in found if j.display_state == wanted]
    return found


def job_logs(
    ctx: Context, principal: Principal, job_id: str, after_seq: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Log lines with ``seq > after_seq``, authorized and audited (``job.read``). To follow a
    running job, call this once and then :func:`log_lines_after` with the last seq: one watched
    stream is one ``job.read`` event, not one per poll."""
    get_job(ctx, principal, job_id)
    return log_lines_after(ctx, job_id, after_seq, limit)


def log_lines_after(
    ctx: Context, job_id: str, after_seq: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """The follow-up reads of a stream :func:`job_logs` opened: no policy, no audit event.

    Only for a caller that has just been allowed ``job.read`` on this job; log lines are
    metadata the worker writes (states, steps, losses), never record contents.
    """
    rows = ctx.conn.execute(
        "SELECT seq, at, line FROM job_logs WHERE job_id=? AND seq>? ORDER BY seq LIMIT ?",
        (job_id, after_seq, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def cancel_job(ctx: Context, principal: Principal, job_id: str) -> JobInfo:
    """Ask a job to stop. A queued job is cancelled at once; a running one within seconds, after
    its worker saves a checkpoint. Cancelling a finished job is a :class:`Conflict`."""
    job = load_job(ctx, job_id)
    authorize(
        ctx,
        principal,
        "job.cancel",
        {"type": "job", "id": job_id, "state": job.state, "created_by": job.created_by},
        "training",
    )
    with transaction(ctx.conn):
        state = ctx.conn.execute("SELECT state FROM jobs WHERE job_id=?", (job_id,)).fetchone()[0]
        if state in FINISHED:
            raise Conflict(f"job {job_id} is already {state}")
        ctx.conn.execute("UPDATE jobs SET cancel_requested=1 WHERE job_id=?", (job_id,))
        if state == QUEUED:
            ctx.conn.execute(
                "UPDATE jobs SET state=?, finished_at=? WHERE job_id=?",
                (CANCELLED, ctx.now(), job_id),
            )
    append_log(ctx, job_id, f"cancel requested by {principal.name}")
    return load_job(ctx, job_id)


@tracks_outcome  # a resume that allowed and then could not start: job.resume.failed
def resume_job(
    ctx: Context, principal: Principal, job_id: str, *, start_worker_process: bool = True
) -> JobInfo:
    """Resume an interrupted job: the ``job.resume`` decision for the caller, then a new worker,
    which takes the job over (deciding ``job.resume`` again as the job's owner, as every
    takeover does) and continues from the last checkpoint. ``start_worker_process=False`` (a
    service with ``--external-job-worker``) leaves the start to the worker runner, whose loop
    resumes interrupted jobs. Resuming a job that is not interrupted is a :class:`Conflict`."""
    job = load_job(ctx, job_id)
    if job.interrupted is None:
        raise Conflict(_not_interrupted(job))
    action = begin_action(
        ctx,
        principal,
        "job.resume",
        {"type": "job", "id": job_id, "state": job.state, "created_by": job.created_by},
        "training",
        {"job_id": job_id, "requested_by": principal.name, "worker_pid": job.pid},
    )
    if start_worker_process and not recover_jobs(ctx, only=job_id):
        raise Conflict(_not_interrupted(load_job(ctx, job_id)) + " (resumed meanwhile)")
    action.complete()
    append_log(ctx, job_id, f"resume requested by {principal.name} ({job.interrupted})")
    return load_job(ctx, job_id)


def _not_interrupted(job: JobInfo) -> str:
    if job.state == RUNNING:
        return f"job {job.job_id} is RUNNING (worker {job.pid}), not interrupted: nothing to resume"
    if job.state == QUEUED:
        return f"job {job.job_id} is QUEUED, not interrupted: it starts when a worker takes it"
    return f"job {job.job_id} is {job.state}, not interrupted: only an interrupted job resumes"


def start_worker(ctx: Context, job_id: str) -> int:
    """Launch the worker process for a job; returns its pid. Its output goes nowhere: progress and
    logs are in the database, and nothing it prints may land in a file (it could hold data)."""
    job = load_job(ctx, job_id)
    pid = spawn_worker(WORKER_MODULE, job_id, ctx.home)
    if job.state == QUEUED:  # so that a worker dying before it claims the job is noticed
        with transaction(ctx.conn):
            ctx.conn.execute(
                "UPDATE jobs SET pid=? WHERE job_id=? AND state=? AND pid IS NULL",
                (pid, job_id, QUEUED),
            )
    return pid


def spawn_worker(module: str, target_id: str, home: Path) -> int:
    """Start ``python -m MODULE TARGET_ID --home HOME`` in a session of its own, output
    discarded; returns its pid. The launcher of training workers, and of the feedback
    campaigns' generation workers (:mod:`appliance.feedback.worker`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, target_id, "--home", str(home)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd=home,  # `python -m` imports from the working directory first: use a private one
    )
    return process.pid


def wait_for_job(
    ctx: Context,
    job_id: str,
    on_update: Callable[[JobInfo], None] | None = None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> JobInfo:
    """Block until the job finishes (or ``timeout_s`` passes); ``on_update`` sees each change.
    A worker that died meanwhile is restarted, so waiting survives a crash too."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last: tuple[Any, ...] | None = None
    while True:
        job = load_job(ctx, job_id)
        key = (job.state, json.dumps(job.progress, sort_keys=True))
        if on_update is not None and key != last:
            on_update(job)
        last = key
        if job.finished:
            return job
        orphaned = job.pid is not None and not worker_alive(job.pid, job_id)
        if (job.state == RUNNING and (job.pid is None or orphaned)) or (
            job.state == QUEUED and orphaned
        ):
            recover_jobs(ctx, only=job_id)
        if deadline is not None and time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


def recover_jobs(ctx: Context, only: str | None = None) -> list[str]:
    """Restart workers for RUNNING jobs whose worker process is gone (they resume from their
    last checkpoint), and for QUEUED jobs whose worker died before it started. The service calls
    this at startup; :func:`wait_for_job` calls it for the job it waits on. Returns the job ids."""
    rows = ctx.conn.execute(
        "SELECT job_id, state, pid FROM jobs WHERE state=? OR (state=? AND pid IS NOT NULL)",
        (RUNNING, QUEUED),
    ).fetchall()
    restarted = []
    for row in rows:
        if only is not None and row["job_id"] != only:
            continue
        if worker_alive(row["pid"], row["job_id"]):
            continue
        # Start the new worker first, then hand it the job only if nobody else did meanwhile:
        # its pid is recorded at once, so it counts as alive while it is still importing. A
        # worker that loses this race finds the job owned by a live worker and exits.
        pid = start_worker(ctx, row["job_id"])
        with transaction(ctx.conn):
            claimed = ctx.conn.execute(
                "UPDATE jobs SET pid=? WHERE job_id=? AND state=? AND pid IS ?",
                (pid, row["job_id"], row["state"], row["pid"]),
            ).rowcount
        if claimed:
            gone = f"worker {row['pid']} is gone" if row["pid"] else "the job was interrupted"
            append_log(ctx, row["job_id"], f"{gone}; worker {pid} resumes it")
            restarted.append(row["job_id"])
    return restarted


def worker_alive(pid: int | None, job_id: str, module: str = "") -> bool:
    """Whether ``pid`` is this job's worker (not just any process that reused the number);
    ``module``: another worker module started by :func:`spawn_worker`."""
    module = module or WORKER_MODULE
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc: trust the pid
    return module.encode() in cmdline and job_id.encode() in cmdline


# -- used by the worker ----------------------------------------------------------------------------


def load_job(ctx: Context, job_id: str) -> JobInfo:
    row = ctx.conn.execute(
        f"SELECT {_COLUMNS} FROM jobs WHERE job_id=?",  # noqa: S608
        (job_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no job {job_id}")
    return _info(row)


def append_log(ctx: Context, job_id: str, line: str) -> None:
    with transaction(ctx.conn):
        seq = ctx.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM job_logs WHERE job_id=?", (job_id,)
        ).fetchone()[0]
        ctx.conn.execute(
            "INSERT INTO job_logs(job_id, seq, at, line) VALUES (?,?,?,?)",
            (job_id, seq, ctx.now(), line),
        )


def update_job(ctx: Context, job_id: str, **columns: Any) -> None:
    """Set columns (dicts become JSON). Column names come from this package, never from input."""
    if not columns:
        return
    names = ", ".join(f"{name}=?" for name in columns)
    values = [
        json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in columns.values()
    ]
    with transaction(ctx.conn):
        ctx.conn.execute(
            f"UPDATE jobs SET {names} WHERE job_id=?",  # noqa: S608
            (*values, job_id),
        )


def _info(row: Any) -> JobInfo:
    data = dict(row)
    return JobInfo(
        job_id=data["job_id"],
        kind=data["kind"],
        task=data["task"],
        state=data["state"],
        config=json.loads(data["config"]),
        dataset_ids=json.loads(data["dataset_ids"]),
        base_model=data["base_model"],
        created_by=data["created_by"],
        created_role=data["created_role"],
        created_at=data["created_at"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        pid=data["pid"],
        progress=json.loads(data["progress"] or "{}"),
        metrics=json.loads(data["metrics"] or "{}"),
        recipe=json.loads(data["recipe"] or "{}"),
        split=json.loads(data["split"] or "{}"),
        error=data["error"],
        model_id=data["model_id"],
        cancel_requested=bool(data["cancel_requested"]),
        has_checkpoint=data["checkpoint_object_id"] is not None,
        interrupted=_interrupted(data["state"], data["pid"], data["job_id"]),
    )


def _interrupted(state: str, pid: int | None, job_id: str) -> str | None:
    """Why a RUNNING job has no live worker, or None. A worker told to stop (SIGTERM) saved a
    checkpoint and gave the job up (pid NULL); a killed one left its pid behind."""
    if state != RUNNING:
        return None
    if pid is None:
        return "its worker was stopped"
    if worker_alive(pid, job_id):
        return None
    return f"worker {pid} is gone"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _progress_text(progress: dict[str, Any]) -> str:
    if not progress:
        return ""
    step, total = progress.get("step"), progress.get("total")
    text = (
        f"{progress.get('phase', '')} {step}/{total}".strip()
        if total
        else progress.get("phase", "")
    )
    if progress.get("reward") is not None:  # RL: the sampled answers' mean reward
        text += f" reward {progress['reward']:.4f}"
    elif progress.get("loss") is not None:
        text += f" loss {progress['loss']:.4f}"
    if progress.get("eta_s") is not None:
        text += f" eta {int(progress['eta_s'])}s"
    return str(text)
