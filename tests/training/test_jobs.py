"""Jobs against a real home: the gate, the vault, the worker process, cancel, resume, revoke."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import AccessDenied, Conflict, InvalidInput, NotFound
from appliance.training import jobs, models, worker
from tests.training.conftest import intent_records, sft_records

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl")
TINY = {"learning_rate": 3e-3, "batch_size": 8}


def classification_job(dataset_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "task": "classification",
        "dataset_ids": [dataset_id],
        "base_model": "tiny-bert",
        "method": "lora",
        "lora_r": 4,
        "epochs": 2,
        **TINY,
        **extra,
    }


def audit_events(ctx: Any, action: str) -> list[Any]:
    return list(ctx.audit.query(action=action, limit=1000))


def wait_until(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def test_classification_job_end_to_end(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(ctx, people["olivia"], classification_job(dataset_id))
    assert job.state == "QUEUED" and job.base_model == "tiny-bert"
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    assert done.progress["phase"] == "evaluating" and done.model_id
    assert done.metrics["test"]["n"] == 12 and "confusion_matrix" in done.metrics["test"]
    assert done.split["datasets"][dataset_id]["sizes"]["train"] == 96
    assert done.recipe["method"] == "lora" and not done.has_checkpoint

    card = models.show_model(ctx, people["audra"], done.model_id).card  # auditors read cards
    assert card["base_model"]["name"] == "tiny-bert" and len(card["base_model"]["sha256"]) == 64
    [source] = card["datasets"]
    assert source["dataset_id"] == dataset_id and len(source["content_hash"]) == 64
    assert card["hyperparameters"]["lora"]["r"] == 4 and card["split"]["seed"] == 42
    assert card["metrics"]["test"]["accuracy"] == done.metrics["test"]["accuracy"]
    assert card["created_by"] == "olivia" and card["duration_s"] > 0
    assert card["hardware"]["device"] in ("cpu", "cuda") and "torch" in card["libraries"]

    # the records came through the gate, for training, naming the job
    [read] = [
        e
        for e in audit_events(ctx, "dataset.read_for_training")
        if e.details.get("job_id") == job.job_id
    ]
    assert read.decision == "allow" and read.purpose == "training"

    out = models.predict(ctx, people["olivia"], done.model_id, ["i lost my card", "transfer"])
    assert [set(o) for o in out] == [{"label", "score"}] * 2
    assert audit_events(ctx, "model.predict")[-1].details["model_id"] == done.model_id
    lines = [entry["line"] for entry in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert lines[0].startswith("queued by olivia") and lines[-1] == "succeeded"
    assert any("through the gate" in line for line in lines)


def test_sft_job_end_to_end(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    dataset_id = make_dataset(sft_records(), task="sft", name="qa")
    job = jobs.submit_job(
        ctx,
        people["olivia"],
        {
            "task": "sft",
            "dataset_ids": [dataset_id],
            "base_model": "tiny-gpt2",
            "epochs": 2,
            "learning_rate": 5e-3,
            "batch_size": 8,
        },
    )
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    assert {"loss", "perplexity", "exact_match"} <= set(done.metrics["test"])
    assert done.metrics["generation"]["n"] == done.split["datasets"][dataset_id]["sizes"]["test"]
    assert done.recipe["method"] == "lora" and "memorization" in done.metrics
    text = models.generate(ctx, people["olivia"], done.model_id, "what is the weather", 5)
    assert isinstance(text, str)
    with pytest.raises(InvalidInput, match="predict needs classification"):
        models.predict(ctx, people["olivia"], done.model_id, ["hello"])


def test_job_refuses_unapproved_or_unknown_datasets(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    pending = make_dataset(intent_records(), approve=False)
    with pytest.raises(Conflict, match="is PENDING_REVIEW, not APPROVED"):
        jobs.submit_job(ctx, people["olivia"], classification_job(pending))
    with pytest.raises(NotFound, match="no dataset ds_nope"):
        jobs.submit_job(ctx, people["olivia"], classification_job("ds_nope"))
    with pytest.raises(NotFound, match="no base model 'gpt-9'"):
        jobs.submit_job(
            ctx, people["olivia"], {**classification_job(pending), "base_model": "gpt-9"}
        )
    with pytest.raises(AccessDenied, match="compliance never runs jobs"):
        jobs.submit_job(ctx, people["carol"], classification_job(pending))
    assert ctx.conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_dataset_revoked_before_the_worker_starts(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    from appliance import datasets as ds

    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(ctx, people["olivia"], classification_job(dataset_id))
    ds.revoke_dataset(ctx, people["carol"], dataset_id, "consent withdrawn")
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "FAILED"
    assert done.error == f"dataset {dataset_id} is REVOKED, not APPROVED: training refused"
    assert not audit_events(ctx, "dataset.read_for_training")  # nothing was read


def test_cancel_a_queued_job(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    job = jobs.submit_job(ctx, people["olivia"], classification_job(make_dataset(intent_records())))
    assert jobs.cancel_job(ctx, people["oscar"], job.job_id).state == "CANCELLED"
    assert worker.run_job(ctx, job.job_id) is None  # nothing left to run
    with pytest.raises(Conflict, match="already CANCELLED"):
        jobs.cancel_job(ctx, people["olivia"], job.job_id)
    with pytest.raises(AccessDenied):
        jobs.cancel_job(ctx, people["audra"], job.job_id)


def test_export_needs_two_people_and_verifies(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str], tmp_path: Path
) -> None:
    from appliance.crypto import generate_signing_key, load_public_key
    from appliance.errors import IntegrityError
    from appliance.training import export

    done = worker.run_job(
        ctx,
        jobs.submit_job(
            ctx, people["olivia"], classification_job(make_dataset(intent_records()))
        ).job_id,
    )
    assert done is not None and done.model_id
    request = export.request_export(ctx, people["olivia"], done.model_id)
    assert request.state == "PENDING_REVIEW" and len(request.bundle_sha256 or "") == 64
    with pytest.raises(AccessDenied, match="separation_of_duties"):
        export.approve_export(ctx, people["olivia"], request.export_id, "my own")
    out = tmp_path / "bundle.tar"
    with pytest.raises(AccessDenied, match="state"):
        export.download_export(ctx, people["olivia"], request.export_id, out)
    approved = export.approve_export(ctx, people["carol"], request.export_id,
                                     "reviewed with Maria Gonzalez, maria.gonzalez@example.com")
    assert (approved.state, approved.approved_by) == ("APPROVED", "carol")
    # the reason is kept redacted, as a dataset review's is, and the event names its digest only
    assert "Gonzalez" not in approved.reason and "maria.gonzalez@" not in approved.reason
    assert "<EMAIL_ADDRESS>" in approved.reason and approved.reason.startswith("reviewed with")
    approve_event = [e for e in audit_events(ctx, "model.export.approve")
                     if e.decision == "allow"][-1]
    assert approve_event.details["reason_given"] is True
    assert approve_event.details["reason_sha256"] == hashlib.sha256(
        approved.reason.encode()).hexdigest()
    assert "Gonzalez" not in json.dumps(dict(approve_event.details))
    with pytest.raises(AccessDenied, match="ownership"):
        export.download_export(ctx, people["oscar"], request.export_id, out)
    export.download_export(ctx, people["olivia"], request.export_id, out)
    with pytest.raises(Conflict, match="already exists"):
        export.download_export(ctx, people["olivia"], request.export_id, out)

    public = load_public_key(export.public_key_file(ctx))
    report = export.verify_bundle(out, public)
    # the released bundle is the reviewed one sealed again with its approval in the manifest
    assert report["ok"] and report["bundle_sha256"] == approved.bundle_sha256
    assert report["reviewed_bundle_sha256"] == request.bundle_sha256
    assert (report["requested_by"], report["approved_by"]) == ("olivia", "carol")
    assert set(report["files"]) == {"model.safetensors", "model_card.json"}
    # one request event, the decision to read the weights for this export (before the bundle
    # existed); the approve event names the bundle built then
    requested = [e for e in audit_events(ctx, "model.export.request") if e.decision == "allow"]
    assert [e.details["export_id"] for e in requested] == [request.export_id]
    for action, sha in (("model.export.approve", request.bundle_sha256),
                        ("model.export.download", approved.bundle_sha256)):
        hashes = {
            e.details.get("bundle_sha256")
            for e in audit_events(ctx, action)
            if e.decision == "allow"
        }
        assert sha in hashes, action

    other = load_public_key(export_public(generate_signing_key(tmp_path / "other.key")))
    with pytest.raises(IntegrityError):
        export.verify_bundle(out, other)
    data = out.read_bytes()
    weights_at = data.index(b"appliance-model/1")  # inside the safetensors header
    for offset in (10, 600, weights_at, len(data) // 2, len(data) - 2000, len(data) - 1):
        tampered = bytearray(data)
        tampered[offset] ^= 0x01
        bad = tmp_path / f"bad-{offset}.tar"
        bad.write_bytes(bytes(tampered))
        with pytest.raises(IntegrityError):
            export.verify_bundle(bad, public)
    (tmp_path / "short.tar").write_bytes(data[:-512])
    with pytest.raises(IntegrityError):
        export.verify_bundle(tmp_path / "short.tar", public)


def export_public(key: Any) -> bytes:
    from appliance.crypto import export_public_key

    return export_public_key(key)


def test_no_plaintext_or_weights_on_disk(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    before = set(Path(tempfile.gettempdir()).iterdir())
    records = intent_records()
    dataset_id = make_dataset(records)
    config = classification_job(dataset_id, checkpoint_every_steps=2)
    done = worker.run_job(ctx, jobs.submit_job(ctx, people["olivia"], config).job_id)
    assert done is not None and done.state == "SUCCEEDED"
    assert any(
        "checkpoint saved" in e["line"] for e in jobs.job_logs(ctx, people["olivia"], done.job_id)
    )
    needles = [r["text"].encode() for r in records[:30]] + [b"balance not updated"]
    new_tmp = [p for p in Path(tempfile.gettempdir()).iterdir() if p not in before]
    for root in [ctx.home, *new_tmp]:
        for path in Path(root).rglob("*"):
            if not path.is_file():
                continue
            assert not path.name.endswith(WEIGHT_SUFFIXES), path
            data = path.read_bytes()
            assert not any(needle in data for needle in needles), path
    assert list((ctx.home / "tmp").iterdir()) == []


# -- the worker as a process ---------------------------------------------------------------------


def long_job(dataset_id: str) -> dict[str, Any]:
    # early stopping would end a tiny job before the test acts on it
    # and on a quiet machine the tiny model runs thousands of steps a second: make it long
    return classification_job(
        dataset_id, epochs=1000, checkpoint_every_steps=5, early_stopping_patience=1000
    )


def start(ctx: Any, people: dict[str, Any], dataset_id: str) -> tuple[str, int]:
    job = jobs.submit_job(ctx, people["olivia"], long_job(dataset_id))
    pid = jobs.start_worker(ctx, job.job_id)
    wait_until(lambda: (jobs.load_job(ctx, job.job_id).progress.get("step") or 0) >= 12)
    return job.job_id, pid


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


@pytest.mark.slow
def test_cancel_a_running_job_within_seconds(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    job_id, pid = start(ctx, people, make_dataset(intent_records(n_per_label=160)))
    asked = time.monotonic()
    jobs.cancel_job(ctx, people["olivia"], job_id)
    done = jobs.wait_for_job(ctx, job_id, poll_s=0.2, timeout_s=60)
    assert done.state == "CANCELLED" and time.monotonic() - asked < 10
    assert done.has_checkpoint  # cancel keeps a checkpoint
    reap(pid)


@pytest.mark.slow
def test_revoked_dataset_stops_a_running_job(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    from appliance import datasets as ds

    dataset_id = make_dataset(intent_records(n_per_label=160))
    job_id, pid = start(ctx, people, dataset_id)
    ds.revoke_dataset(ctx, people["carol"], dataset_id, "consent withdrawn")
    done = jobs.wait_for_job(ctx, job_id, poll_s=0.2, timeout_s=60)
    assert done.state == "FAILED" and "REVOKED" in (done.error or "")
    assert not done.has_checkpoint  # progress on revoked data is discarded
    reap(pid)


@pytest.mark.slow
def test_resume_after_the_worker_is_killed(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(
        ctx,
        people["olivia"],
        classification_job(
            dataset_id, epochs=8, checkpoint_every_steps=5, early_stopping_patience=1000
        ),
    )
    pid = jobs.start_worker(ctx, job.job_id)
    wait_until(
        lambda: (
            jobs.load_job(ctx, job.job_id).has_checkpoint
            and (jobs.load_job(ctx, job.job_id).progress.get("step") or 0) >= 20
        )
    )
    os.kill(pid, signal.SIGKILL)
    reap(pid)
    killed_at = jobs.load_job(ctx, job.job_id)
    assert killed_at.state == "RUNNING" and not jobs.worker_alive(killed_at.pid, job.job_id)
    assert jobs.recover_jobs(ctx) == [job.job_id]
    done = jobs.wait_for_job(ctx, job.job_id, poll_s=0.5, timeout_s=300)
    assert done.state == "SUCCEEDED", done.error
    lines = [e["line"] for e in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert "resuming from the last checkpoint" in lines
    resumed_step = next(
        int(line.split()[-1]) for line in lines if line.startswith("resuming from step")
    )
    assert resumed_step >= 5
    assert done.metrics["train"]["steps"] > resumed_step
    [resumed] = [e for e in audit_events(ctx, "job.resume") if e.resource == f"job:{job.job_id}"]
    assert resumed.decision == "allow" and resumed.details["checkpoint"] is True


def _resume_events(ctx: Any, job_id: str) -> list[Any]:
    return [e for e in audit_events(ctx, "job.resume") if e.resource == f"job:{job_id}"]


def test_a_stopped_worker_resumes_from_its_checkpoint_as_job_resume(
    ctx: Any,
    people: dict[str, Any],
    bases: Any,
    make_dataset: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(
        ctx, people["olivia"], classification_job(dataset_id, early_stopping_patience=1000)
    )
    should_stop = worker.JobRunner.should_stop

    def told_to_stop_at_step_5(self: worker.JobRunner) -> str | None:
        self.terminated = self.terminated or self.steps_seen >= 5  # as SIGTERM would
        return should_stop(self)

    with monkeypatch.context() as patch:
        patch.setattr(worker.JobRunner, "should_stop", told_to_stop_at_step_5)
        stopped = worker.run_job(ctx, job.job_id)
    assert stopped is not None and stopped.state == "RUNNING" and stopped.has_checkpoint
    assert _resume_events(ctx, job.job_id) == []

    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    [resumed] = _resume_events(ctx, job.job_id)
    assert resumed.decision == "allow" and resumed.actor == "olivia"
    assert resumed.purpose == "training" and resumed.details["checkpoint"] is True
    assert resumed.details["object_id"]  # the checkpoint came through the gate
    # the job was created once: the resume is not recorded as another job.create
    assert len([e for e in audit_events(ctx, "job.create")
                if e.resource == f"job:{job.job_id}"]) == 1
    lines = [e["line"] for e in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert "resuming from the last checkpoint" in lines


def test_an_orphaned_job_without_checkpoint_restarts_after_a_job_resume_decision(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str]
) -> None:
    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(ctx, people["olivia"], classification_job(dataset_id, epochs=1))
    # a worker claimed it and died before its first checkpoint
    jobs.update_job(ctx, job.job_id, state="RUNNING", pid=None, started_at=ctx.now())
    done = worker.run_job(ctx, job.job_id)
    assert done is not None and done.state == "SUCCEEDED", done.error
    [resumed] = _resume_events(ctx, job.job_id)
    assert resumed.decision == "allow" and resumed.details["checkpoint"] is False
    lines = [e["line"] for e in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert "restarting: no checkpoint was saved" in lines


# -- outcomes of refused jobs, interrupted jobs and `job resume` (issue 13, section 2) ------------


def _job_events(ctx: Any, resource: str) -> list[Any]:
    return sorted((e for e in ctx.audit.query(limit=5000) if e.resource == resource),
                  key=lambda e: e.seq)


def _verify_audit(home: Path) -> None:
    from appliance.audit import verify_log
    from appliance.crypto import load_public_key

    verify_log(home / "audit", load_public_key(home / "keys" / "audit-signing.pub"))


def test_a_job_refused_after_its_allow_gets_job_create_failed(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str], home: Path
) -> None:
    from appliance.gate.outcomes import in_flight

    pending = make_dataset(intent_records(), approve=False)
    with pytest.raises(Conflict, match="is PENDING_REVIEW, not APPROVED") as raised:
        jobs.submit_job(ctx, people["olivia"], classification_job(pending))
    with pytest.raises(NotFound, match="no base model 'gpt-9'"):
        jobs.submit_job(ctx, people["olivia"],
                        {**classification_job(pending), "base_model": "gpt-9"})
    created = [e for e in audit_events(ctx, "job.create") if e.decision == "allow"]
    assert len(created) == 2
    for allowed, reason in zip(created, (str(raised.value), "no base model 'gpt-9'"),
                               strict=True):
        job_id = allowed.resource.split(":", 1)[1]
        with pytest.raises(NotFound):
            jobs.get_job(ctx, people["olivia"], job_id)  # `job show` cannot find it...
        _, failed = _job_events(ctx, allowed.resource)  # ...and the log says why
        assert failed.action == "job.create.failed" and failed.actor == "olivia"
        assert reason in failed.reasons[0] and failed.details["allowed_seq"] == allowed.seq
    # a job that is created has its allow and no outcome event
    job = jobs.submit_job(ctx, people["olivia"], classification_job(make_dataset(intent_records())))
    assert [e.action for e in _job_events(ctx, f"job:{job.job_id}")] == ["job.create"]
    assert in_flight(ctx) == []
    _verify_audit(home)


def _cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, token: str,
         *args: str) -> tuple[int, str, str]:
    from appliance.cli.main import main

    monkeypatch.setenv("APPLIANCE_TOKEN", token)
    monkeypatch.delenv("APPLIANCE_URL", raising=False)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_a_killed_worker_shows_interrupted_and_job_resume_finishes_it(
    ctx: Any, people: dict[str, Any], bases: Any, make_dataset: Callable[..., str], home: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    dataset_id = make_dataset(intent_records())
    job = jobs.submit_job(ctx, people["olivia"], classification_job(
        dataset_id, epochs=6, checkpoint_every_steps=5, early_stopping_patience=1000))
    with pytest.raises(Conflict, match="is QUEUED, not interrupted"):
        jobs.resume_job(ctx, people["olivia"], job.job_id)
    pid = jobs.start_worker(ctx, job.job_id)
    wait_until(lambda: jobs.load_job(ctx, job.job_id).has_checkpoint)
    with pytest.raises(Conflict, match=f"is RUNNING \\(worker {pid}\\), not interrupted"):
        jobs.resume_job(ctx, people["olivia"], job.job_id)
    os.kill(pid, signal.SIGKILL)
    reap(pid)

    shown = jobs.get_job(ctx, people["olivia"], job.job_id)
    assert shown.state == "RUNNING" and shown.display_state == "INTERRUPTED"
    assert shown.interrupted == f"worker {pid} is gone"
    assert [j.job_id for j in jobs.list_jobs(ctx, people["olivia"], "interrupted")] == [job.job_id]
    assert jobs.list_jobs(ctx, people["olivia"], "running") == []
    trainer_dirs = [p.name for p in (home / "tmp").iterdir() if p.name.startswith("trainer-")]
    assert len(trainer_dirs) == 1  # what the kill left

    token = people["olivia_token"]
    code, out, _ = _cli(capsys, monkeypatch, token, "--home", str(home), "job", "list")
    assert code == 0 and f"{job.job_id}" in out and "INTERRUPTED" in out
    code, out, _ = _cli(capsys, monkeypatch, token, "--home", str(home), "job", "show",
                        job.job_id)
    assert code == 0 and "INTERRUPTED" in out
    assert f"worker {pid} is gone; resume it with: appliance job resume {job.job_id}" in out
    with pytest.raises(AccessDenied):  # the same job.resume decision as every takeover
        jobs.resume_job(ctx, people["audra"], job.job_id)

    code, out, _ = _cli(capsys, monkeypatch, token, "--home", str(home), "job", "resume",
                        job.job_id)
    assert code == 0 and f"resuming {job.job_id}" in out
    done = jobs.wait_for_job(ctx, job.job_id, poll_s=0.5, timeout_s=300)
    assert done.state == "SUCCEEDED" and done.interrupted is None, done.error
    lines = [e["line"] for e in jobs.job_logs(ctx, people["olivia"], job.job_id)]
    assert f"resume requested by olivia (worker {pid} is gone)" in lines
    assert "resuming from the last checkpoint" in lines
    resumes = sorted(_resume_events(ctx, job.job_id), key=lambda e: e.seq)
    assert [(e.actor, e.decision, e.details.get("requested_by")) for e in resumes] == [
        ("audra", "deny", "audra"),  # refused: no outcome event, nothing in flight
        ("olivia", "allow", "olivia"),  # the request...
        ("olivia", "allow", None),  # ...then the worker's takeover, decrypting the checkpoint
    ]
    assert resumes[2].details["checkpoint"] is True

    # the new worker's start-up swept the killed one's trainer directory, and said so
    swept = [e for e in audit_events(ctx, "home.tmp.swept")
             if trainer_dirs[0] in e.details["names"]]
    assert len(swept) == 1 and swept[0].details["removed_trainer"] == 1
    assert not (home / "tmp" / trainer_dirs[0]).exists()

    code, _, err = _cli(capsys, monkeypatch, token, "--home", str(home), "job", "resume",
                        job.job_id)
    assert code == Conflict.exit_code
    assert f"job {job.job_id} is SUCCEEDED, not interrupted" in err
    _verify_audit(home)
