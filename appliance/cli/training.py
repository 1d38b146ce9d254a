"""``appliance job|model|export|worker ...``: fine-tuning jobs, trained models, governed exports.

Most commands run against the local home, or against a remote service when ``APPLIANCE_URL`` is
set (:func:`appliance.cli.remote.backend`); the output is the same either way. ``job logs``,
``worker``, ``model base`` and ``export verify`` work on the local home only.

``job run --wait`` with no service running starts the worker itself and follows it; the worker
is a separate process per job (``appliance worker JOB_ID``) whatever started it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput

from .common import add_json, add_token, caller, context, print_fields, print_json, print_table
from .remote import LocalBackend, RemoteClient, backend

if TYPE_CHECKING:
    from appliance.training.jobs import JobInfo

#: CLI flag -> JobConfig field, for the hyperparameters worth a flag; the rest via --config.
_FLAGS: dict[str, tuple[type, str]] = {
    "base_model": (str, "registered base model name"),
    "method": (str, "lora | full | auto"),
    "epochs": (float, "passes over the training split"),
    "learning_rate": (float, "peak learning rate"),
    "batch_size": (int, "examples per step"),
    "max_length": (int, "tokens per example"),
    "warmup_ratio": (float, "share of steps warming up"),
    "weight_decay": (float, "AdamW weight decay"),
    "gradient_accumulation_steps": (int, "steps per optimizer update"),
    "seed": (int, "seed for init, shuffling, dropout"),
    "lora_r": (int, "LoRA rank"),
    "lora_alpha": (float, "LoRA alpha"),
    "lora_dropout": (float, "LoRA dropout"),
    "time_budget_s": (float, "wall-clock budget for training"),
    "text_field": (str, "record field with the input text"),
    "label_field": (str, "record field with the label"),
    "prompt_field": (str, "record field with the SFT prompt"),
    "response_field": (str, "record field with the SFT response (or a rated answer)"),
    "chosen_field": (str, "record field with the preferred answer (pairwise preferences)"),
    "rejected_field": (str, "record field with the worse answer (pairwise preferences)"),
    "responses_field": (str, "record field with the ranked answers (a list)"),
    "ranking_field": (str, "record field with the ranking, best first (indices)"),
    "rating_field": (str, "record field with the rating of the response (KTO)"),
    "reward_model": (str, "a trained reward model (mdl_...): rloo learns from it; it judges "
                          "sft/dpo answers against the base"),
    "samples_per_prompt": (int, "answers sampled per prompt each RL step (rloo)"),
    "kl_beta": (float, "KL penalty to the base (rloo)"),
    "max_new_tokens": (int, "tokens per generated answer (evaluation; rloo's samples)"),
}


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _register_jobs(commands)
    _register_models(commands)
    _register_exports(commands)
    worker = commands.add_parser(
        "worker", help="the job runner: run queued jobs one at a time, each in its own process")
    worker.add_argument("job_id", nargs="?", help="run just this job, then exit")
    worker.add_argument("--poll-seconds", type=float, default=2.0,
                        help="how often to look for queued jobs (default 2)")
    worker.add_argument("--once", action="store_true", help="drain the queue, then exit")
    worker.set_defaults(handler=cmd_worker)


def _register_jobs(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    job = commands.add_parser("job", help="fine-tuning jobs").add_subparsers(
        dest="job_command", required=True, metavar="ACTION")
    run = job.add_parser("run", help="queue a job (LoRA or full fine-tuning) on approved data")
    run.add_argument("--dataset", action="append", required=True, dest="datasets",
                     help="approved dataset id (repeat for a multi-task job)")
    run.add_argument("--task", required=True,
                     choices=("classification", "sft", "reward", "dpo", "orpo", "kto", "rloo"),
                     help="what to train: a classifier, a generative (sft) model, a reward model "
                          "on preference pairs, or a generative model tuned on them (dpo; orpo, "
                          "without a reference), on rated answers (kto), or by RL from a reward "
                          "model's scores (rloo)")
    run.add_argument("--kind", choices=("train", "search"), default="train",
                     help="one training run, or a small hyperparameter grid chosen on validation")
    run.add_argument("--config", type=Path, help="job config file (JSON or YAML)")
    for name, (kind, text) in _FLAGS.items():
        run.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    run.add_argument("--wait", action="store_true", help="follow the job until it ends")
    add_json(run)
    add_token(run)
    run.set_defaults(handler=cmd_job_run)

    ls = job.add_parser("list", help="list jobs")
    ls.add_argument("--state", help="only jobs in this state (e.g. RUNNING)")
    add_json(ls)
    add_token(ls)
    ls.set_defaults(handler=cmd_job_list)
    show = job.add_parser("show", help="state, progress, metrics and the model produced")
    show.add_argument("job_id", help="the job (job_...)")
    add_json(show)
    add_token(show)
    show.set_defaults(handler=cmd_job_show)
    logs = job.add_parser("logs", help="a job's log lines")
    logs.add_argument("job_id", help="the job (job_...)")
    logs.add_argument("--follow", action="store_true", help="keep printing until the job ends")
    add_token(logs)
    logs.set_defaults(handler=cmd_job_logs)
    cancel = job.add_parser("cancel", help="stop a job (it saves a checkpoint)")
    cancel.add_argument("job_id", help="the job (job_...)")
    add_token(cancel)
    cancel.set_defaults(handler=cmd_job_cancel)
    resume = job.add_parser(
        "resume", help="resume an INTERRUPTED job (its worker is gone) from its last checkpoint")
    resume.add_argument("job_id", help="the interrupted job")
    resume.add_argument("--wait", action="store_true", help="follow the job until it ends")
    add_json(resume)
    add_token(resume)
    resume.set_defaults(handler=cmd_job_resume)


def _register_models(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    model = commands.add_parser("model", help="trained models").add_subparsers(
        dest="model_command", required=True, metavar="ACTION")
    ls = model.add_parser("list", help="list models")
    add_json(ls)
    add_token(ls)
    ls.set_defaults(handler=cmd_model_list)
    show = model.add_parser("show", help="a model's card")
    show.add_argument("model_id", help="the model (mdl_...)")
    add_json(show)
    add_token(show)
    show.set_defaults(handler=cmd_model_show)
    predict = model.add_parser("predict", help="classify texts with a classification model")
    predict.add_argument("model_id", help="the model (mdl_...)")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one text to classify")
    source.add_argument("--file", type=Path, help="JSONL with a 'text' field per line")
    add_token(predict)
    predict.set_defaults(handler=cmd_model_predict)
    score = model.add_parser("score", help="score answers to prompts with a reward model")
    score.add_argument("model_id", metavar="MODEL", help="the reward model (mdl_...)")
    score.add_argument("--file", type=Path, required=True,
                       help="JSONL: a 'prompt' (a string or {role, content} turns) and a "
                            "'response' per line; one {\"score\": ...} line out per line in")
    add_token(score)
    score.set_defaults(handler=cmd_model_score)
    generate = model.add_parser(
        "generate", help="answer prompts with a generative model or a base model, in batches")
    generate.add_argument(
        "model", metavar="MODEL",
        help="a trained generative model (mdl_...) or a registered base as base:<name>, to "
             "compare a base with what fine-tuning made of it")
    source = generate.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="one prompt (a user turn) to answer")
    source.add_argument("--file", type=Path,
                        help="JSONL: a 'prompt' string or a 'messages' list of {role, content} "
                             "per line; one {\"text\": ...} line out per line in, in order")
    generate.add_argument("--max-new-tokens", type=int, default=128,
                          help="longest answer, in tokens (default 128, at most 1024)")
    generate.add_argument("--temperature", type=float, default=0.0,
                          help="0 (default): greedy and repeatable; above 0 samples")
    generate.add_argument("--top-p", type=float, default=1.0,
                          help="nucleus sampling: keep the likeliest tokens up to this "
                               "probability mass (default 1.0; with --temperature above 0)")
    generate.add_argument("--seed", type=int, help="seed for sampling (repeatable samples)")
    add_token(generate)
    generate.set_defaults(handler=cmd_model_generate)
    base = model.add_parser("base", help="base models: local directories jobs fine-tune from"
                            ).add_subparsers(dest="base_command", required=True, metavar="ACTION")
    add = base.add_parser("add", help="register a local Hugging Face model directory (admin)")
    add.add_argument("name", help="the name jobs give as base_model")
    add.add_argument("path", type=Path, help="absolute path of the model directory")
    add_json(add)
    add_token(add)
    add.set_defaults(handler=cmd_model_base_add)
    ls_base = base.add_parser("list", help="list registered base models")
    add_json(ls_base)
    add_token(ls_base)
    ls_base.set_defaults(handler=cmd_model_base_list)


def _register_exports(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    export = commands.add_parser("export", help="two-person model export").add_subparsers(
        dest="export_command", required=True, metavar="ACTION")
    request = export.add_parser("request", help="ask to export a model (operator)")
    request.add_argument("model_id", help="the model (mdl_...)")
    request.add_argument("--merged", action="store_true",
                         help="a generative LoRA model: bundle the adapter folded into its base, "
                              "a standard Hugging Face directory (default: the adapter alone)")
    add_json(request)
    add_token(request)
    request.set_defaults(handler=cmd_export_request)
    show = export.add_parser("show", help="one export request: state, contents, memorization "
                                          "scan")
    show.add_argument("export_id", help="the export (exp_...)")
    add_json(show)
    add_token(show)
    show.set_defaults(handler=cmd_export_show)
    for verb in ("approve", "reject"):
        p = export.add_parser(verb, help=f"{verb} an export (compliance, not the requester)")
        p.add_argument("export_id", help="the export (exp_...)")
        p.add_argument("--reason", default="", help="why, for the record")
        add_token(p)
        p.set_defaults(handler=cmd_export_decide, verb=verb)
    ls = export.add_parser("list", help="list export requests")
    add_json(ls)
    add_token(ls)
    ls.set_defaults(handler=cmd_export_list)
    download = export.add_parser("download", help="write the approved, signed bundle")
    download.add_argument("export_id", help="the export (exp_...)")
    download.add_argument("--out", type=Path, required=True,
                          help="file to write (must not exist)")
    add_token(download)
    download.set_defaults(handler=cmd_export_download)
    verify = export.add_parser("verify", help="check a bundle's manifest and signature offline")
    verify.add_argument("bundle", type=Path, help="the bundle file (.tar)")
    verify.add_argument("--pubkey", type=Path, help="signing public key (default: the home's)")
    add_json(verify)
    verify.set_defaults(handler=cmd_export_verify)


def job_config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if args.config:
        import yaml

        try:
            loaded = yaml.safe_load(args.config.read_text("utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInput(f"{args.config}: cannot read job config: {exc}") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"{args.config}: a job config must be a mapping")
        data.update(loaded)
    data.update({"task": args.task, "kind": args.kind, "dataset_ids": args.datasets})
    for name in _FLAGS:
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    return data


def _progress_line(job: JobInfo) -> str:
    return f"{job.state}  {job.summary()['progress']}".rstrip()


def cmd_job_run(args: argparse.Namespace) -> int:
    """Queue the job; a service starts its worker, a local home has none, so start it here."""
    from appliance.training import jobs

    target = backend(args)
    job = target.submit_job(job_config_from_args(args))
    if not args.wait:
        if isinstance(target, LocalBackend):
            jobs.start_worker(target.ctx, job.job_id)
        if args.json:
            print_json(job.summary())
        else:
            print(f"queued {job.job_id}; follow it with: appliance job logs {job.job_id} --follow")
        return 0
    if isinstance(target, LocalBackend):
        print(f"job {job.job_id} queued; running it here", file=sys.stderr)
        jobs.start_worker(target.ctx, job.job_id)
        final = jobs.wait_for_job(target.ctx, job.job_id,
                                  on_update=lambda j: print(_progress_line(j), file=sys.stderr))
    else:
        final = _poll_job(target, job)
    return _report_final(final, args)


def _poll_job(client: RemoteClient, job: JobInfo) -> JobInfo:
    """The service runs the job; follow its progress until it ends."""
    last = ""
    while not job.finished:
        line = _progress_line(job)
        if line != last:
            print(line, file=sys.stderr)
            last = line
        time.sleep(2.0)
        job = client.get_job(job.job_id)
    return job


def _report_final(final: JobInfo, args: argparse.Namespace) -> int:
    if args.json:
        print_json(final.as_dict())
    else:
        print(f"job {final.job_id} {final.state}")
        if final.model_id:
            print(f"model {final.model_id}")
        _print_metrics(final.metrics)
        if final.error:
            print(f"error: {final.error}")
    return 0 if final.state == "SUCCEEDED" else 1


def _print_metrics(metrics: dict[str, Any]) -> None:
    test = metrics.get("test", metrics)
    for key in ("accuracy", "macro_f1", "weighted_f1", "pairwise_accuracy", "margin_mean",
                "win_rate", "reward_mean", "kl_mean", "eval_loss", "perplexity"):
        if isinstance(test.get(key), int | float):
            print(f"  test {key:12} {test[key]:.4f}")


def cmd_job_list(args: argparse.Namespace) -> int:
    items = backend(args).list_jobs(args.state)
    if args.json:
        print_json([j.summary() for j in items])
    else:
        print_table([(j.job_id, j.task, j.display_state, j.created_by, j.model_id or "-")
                     for j in items],
                    ("ID", "TASK", "STATE", "BY", "MODEL"))
    return 0


def cmd_job_show(args: argparse.Namespace) -> int:
    job = backend(args).get_job(args.job_id)
    if args.json:
        print_json(job.as_dict())
    else:
        print_fields(job.summary())
    return 0


def cmd_job_logs(args: argparse.Namespace) -> int:
    from appliance.training import jobs

    ctx = context(args)
    principal = caller(ctx, args)
    # Authorized and audited once, when the stream opens (as the API's SSE stream is); the
    # follow-up polls read new lines only, so watching a job for an hour is one job.read event.
    lines = jobs.job_logs(ctx, principal, args.job_id)
    after = 0
    while True:
        for line in lines:
            print(f"{line['at']}  {line['line']}", flush=True)
            after = line["seq"]
        if not args.follow or jobs.load_job(ctx, args.job_id).finished:
            if args.follow:  # drain what the worker wrote as it finished
                for line in jobs.log_lines_after(ctx, args.job_id, after):
                    print(f"{line['at']}  {line['line']}")
            return 0
        time.sleep(1.0)
        lines = jobs.log_lines_after(ctx, args.job_id, after)


def cmd_job_cancel(args: argparse.Namespace) -> int:
    job = backend(args).cancel_job(args.job_id)
    print(f"job {job.job_id}: {job.state}" + (" (cancel requested)" if not job.finished else ""))
    return 0


def cmd_job_resume(args: argparse.Namespace) -> int:
    """Start a new worker for an interrupted job; with --wait, follow it to its end."""
    from appliance.training import jobs

    target = backend(args)
    job = target.resume_job(args.job_id)
    if args.wait:
        if isinstance(target, LocalBackend):
            final = jobs.wait_for_job(target.ctx, job.job_id,
                                      on_update=lambda j: print(_progress_line(j), file=sys.stderr))
        else:
            final = _poll_job(target, job)
        return _report_final(final, args)
    if args.json:
        print_json(job.summary())
    else:
        print(f"resuming {job.job_id}; follow it with: appliance job logs {job.job_id} --follow")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """One job, or the long-running runner behind ``appliance-worker.service``.

    The runner restarts jobs whose worker died (they resume from their checkpoint), then runs the
    oldest queued job in a child process and waits for it, so a crash in training never takes
    the runner down. SIGTERM stops it between jobs; a running job is cancelled by its own
    worker's SIGTERM handling, which saves a checkpoint.
    """
    import signal
    import subprocess

    from appliance.training import worker

    ctx = context(args)
    if args.job_id:
        return worker.main([args.job_id, "--home", str(ctx.home)])
    from appliance.feedback.generation import recover_campaigns
    from appliance.training import jobs

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    print(f"job runner on {ctx.home}: waiting for queued jobs", file=sys.stderr, flush=True)
    while not stopping:
        jobs.recover_jobs(ctx)
        recover_campaigns(ctx)  # campaigns GENERATING with no live worker: start one each
        row = ctx.conn.execute("SELECT job_id FROM jobs WHERE state='QUEUED'"
                               " ORDER BY created_at, job_id LIMIT 1").fetchone()
        if row is None:
            if args.once:
                return 0
            time.sleep(args.poll_seconds)
            continue
        print(f"running {row['job_id']}", file=sys.stderr, flush=True)
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "appliance.training.worker", row["job_id"],
             "--home", str(ctx.home)], stdin=subprocess.DEVNULL, check=False)
        if jobs.load_job(ctx, row["job_id"]).state == "QUEUED":
            time.sleep(args.poll_seconds)  # the worker could not claim it; don't spin
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    items = backend(args).list_models()
    if args.json:
        print_json([m.summary() for m in items])
    else:
        print_table([(m.model_id, m.task, m.method, m.base_model, m.created_by) for m in items],
                    ("ID", "TASK", "METHOD", "BASE", "BY"))
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    from appliance.training.metrics import card_intervals, interval_text  # numpy: only here

    info = backend(args).show_model(args.model_id)
    intervals = card_intervals(info.card)
    if args.json:
        print_json({**info.as_dict(), "test_intervals": intervals,
                    "generation_intervals": generation_intervals(info.card)})
    else:
        metrics = info.card.get("metrics", {})
        test = metrics.get("test", {})
        generation = generation_lines(info.card)
        # exact match is shown once: in the generation lines, beside the base's
        shown = {k: e for k, e in intervals.items()
                 if k in test and not (generation and k in GENERATION_INTERVALS)}
        summary = {k: v for k, v in info.summary().items() if k not in intervals}
        scan = metrics.get("memorization")
        print_fields(summary | {f"test {key}": interval_text(test[key], entry)
                                for key, entry in shown.items()}
                     | generation
                     | ({"memorization": memorization_text(scan)} if scan is not None else {}))
    return 0


#: Generation metrics of a card (``card["metrics"]["generation"]``), in the order shown.
GENERATION_METRICS = ("exact_match", "rouge_l", "chrf")
GENERATION_INTERVALS = ("exact_match", "base_exact_match")


def generation_intervals(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Wilson 95% intervals of exact match, the model's and the base's (each answer is right or
    wrong; n is the number of prompts scored); ROUGE-L and chrF are means of graded scores and
    get none."""
    from appliance.training.metrics import wilson_interval

    found = card.get("metrics", {}).get("generation") or {}
    out: dict[str, dict[str, Any]] = {}
    for key, figures in zip(GENERATION_INTERVALS, (found, found.get("base") or {}),
                            strict=True):
        n, value = figures.get("n", found.get("n")), figures.get("exact_match")
        if isinstance(n, int) and n > 0 and isinstance(value, int | float):
            low, high = wilson_interval(round(value * n), n)
            out[key] = {"n": n, "low": low, "high": high, "method": "Wilson score, 95%"}
    return out


def generation_lines(card: dict[str, Any]) -> dict[str, str]:
    """``generation exact_match  0.700 (95% CI ...); base 0.020 (...)`` and so on."""
    from appliance.training.metrics import interval_text

    found = card.get("metrics", {}).get("generation") or {}
    base = found.get("base") or {}
    intervals = generation_intervals(card)

    def shown(value: Any, entry: dict[str, Any] | None) -> str:
        if not isinstance(value, int | float):
            return "-"
        if entry is not None:
            return interval_text(float(value), entry)
        return f"{value:.3f}" if abs(value) <= 1 else f"{value:.1f}"

    lines = {}
    for key in GENERATION_METRICS:
        if key not in found:
            continue
        text = shown(found[key], intervals.get(key))
        if base:
            text += f"; base {shown(base.get(key), intervals.get('base_' + key))}"
        lines[f"generation {key}"] = text
    if lines and isinstance(found.get("n"), int):
        lines = {"generation n": str(found["n"]) + (" held-out prompts, the base on the same"
                                                    if base else " held-out prompts")} | lines
    return lines


def cmd_model_predict(args: argparse.Namespace) -> int:
    if args.text is not None:
        texts = [args.text]
    else:
        texts = []
        try:
            lines = args.file.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{args.file}: {exc}") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise InvalidInput(f"{args.file}:{number}: malformed JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise InvalidInput(f"{args.file}:{number}: needs a string 'text' field")
            texts.append(record["text"])
    # Read the file before signing in: a bad --file is reported alike with or without a home.
    for result in backend(args).predict(args.model_id, texts):
        print(json.dumps(result))
    return 0


def cmd_model_score(args: argparse.Namespace) -> int:
    """One ``{"score": ...}`` line per item, in order, a call of at most
    ``models.MAX_SCORE_ITEMS`` items at a time (each one audited decision)."""
    from appliance.training.models import MAX_SCORE_ITEMS

    items = _read_score_items(args.file)
    # The file is read and checked before signing in, as generate's is.
    target = backend(args)
    for start in range(0, len(items), MAX_SCORE_ITEMS):
        for value in target.score(args.model_id, items[start:start + MAX_SCORE_ITEMS]):
            print(json.dumps({"score": value}), flush=True)
    return 0


def _read_score_items(path: Path) -> list[dict[str, Any]]:
    """Each line's prompt and response, checked; errors name the file and the line."""
    from appliance.training.tasks.reward import prompt_turns

    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    items: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError:
            raise InvalidInput(f"{where}: malformed JSON") from None
        if not isinstance(record, dict) or "prompt" not in record or "response" not in record:
            raise InvalidInput(f"{where}: needs a 'prompt' and a 'response'")
        if prompt_turns(record["prompt"]) is None:
            raise InvalidInput(f"{where}: 'prompt' must be a non-empty string or a list of "
                               "{role, content} turns ending with the user's")
        if not isinstance(record["response"], str) or not record["response"].strip():
            raise InvalidInput(f"{where}: 'response' must be a non-empty string")
        items.append({"prompt": record["prompt"], "response": record["response"]})
    if not items:
        raise InvalidInput(f"{path}: nothing to score (one JSON object per line)")
    return items


def cmd_model_generate(args: argparse.Namespace) -> int:
    """Answers on stdout, one JSON line per prompt in order, generated a batch at a time (each
    batch one audited ``model.generate`` call); what the output guard did goes to stderr."""
    from appliance.training.chat import MAX_BATCH, check_prompt, parse_ref

    parse_ref(args.model)
    prompts: list[Any] = [args.prompt] if args.prompt is not None else _read_prompts(args.file)
    if args.prompt is not None:
        check_prompt(args.prompt, "--prompt")
    options = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
               "top_p": args.top_p, "seed": args.seed}
    # The file is read and checked before signing in: a bad line is reported alike with or
    # without a home, and before anything is generated.
    target = backend(args)
    found: dict[str, int] = {}
    guarded = withheld = 0
    for start in range(0, len(prompts), MAX_BATCH):
        for answer in target.generate(args.model, prompts[start:start + MAX_BATCH], options):
            print(json.dumps({"text": answer.text}, ensure_ascii=False), flush=True)
            guarded += bool(answer.pii)
            withheld += answer.withheld
            for entity, n in answer.pii.items():
                found[entity] = found.get(entity, 0) + n
    if found:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(found.items()))
        verb = "withheld" if withheld else "redacted"
        print(f"output guard: personal data {verb} in {guarded} of {len(prompts)} answers "
              f"({kinds})", file=sys.stderr)
    return 0


def _read_prompts(path: Path) -> list[Any]:
    """Each line's prompt or messages, checked; errors name the file and the line."""
    from appliance.training.chat import check_prompt

    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    prompts: list[Any] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError:
            raise InvalidInput(f"{where}: malformed JSON") from None
        if not isinstance(record, dict) or ("prompt" in record) == ("messages" in record):
            raise InvalidInput(f"{where}: needs a 'prompt' string or a 'messages' list (one "
                               "of the two)")
        value = record.get("prompt", record.get("messages"))
        if "prompt" in record and not isinstance(value, str):
            raise InvalidInput(f"{where}: 'prompt' must be a string")
        if "messages" in record and not isinstance(value, list):
            raise InvalidInput(f"{where}: 'messages' must be a list of {{role, content}}")
        check_prompt(value, where)
        prompts.append(value)
    if not prompts:
        raise InvalidInput(f"{path}: no prompts (one JSON object per line)")
    return prompts


def cmd_model_base_add(args: argparse.Namespace) -> int:
    """Hash the directory and record it; the policy decides who may (admin) and audits it."""
    from appliance.training import registry

    ctx = context(args)
    info = registry.register_base_model(ctx, caller(ctx, args), args.name, args.path)
    if args.json:
        print_json(info.as_dict())
    else:
        print(f"base model {info.name} registered: {info.path} (sha256 {info.sha256})")
    return 0


def cmd_model_base_list(args: argparse.Namespace) -> int:
    from appliance.training import registry

    ctx = context(args)
    caller(ctx, args)  # names and paths only, but still for signed-in users only
    items = registry.list_base_models(ctx)
    if args.json:
        print_json([b.as_dict() for b in items])
    else:
        print_table([(b.name, b.path, b.sha256[:16]) for b in items], ("NAME", "PATH", "SHA256"))
    return 0


def cmd_export_request(args: argparse.Namespace) -> int:
    info = backend(args).request_export(args.model_id, merged=args.merged)
    if args.json:
        print_json(info.as_dict())
    else:
        print(f"export {info.export_id} requested for {info.model_id}: {info.state}")
        print(f"bundle sha256 {info.bundle_sha256}")
        print(f"contents {info.contents}")
        if info.memorization is not None:
            print(f"memorization {memorization_text(info.memorization)}")
    return 0


def cmd_export_show(args: argparse.Namespace) -> int:
    info = backend(args).show_export(args.export_id)
    if args.json:
        print_json(info.as_dict())
        return 0
    fields = {k: "-" if v in (None, "") else v for k, v in info.as_dict().items()}
    scan = info.memorization
    print_fields(fields | {"memorization": memorization_text(scan)})
    return 0


def memorization_text(scan: dict[str, Any] | None) -> str:
    """"flagged: reason; reason", "not flagged", or "-" (no scan: not a generative model)."""
    if not isinstance(scan, dict):
        return "-"
    reasons = [str(r) for r in scan.get("reasons") or []]
    if scan.get("flagged"):
        return "flagged: " + ("; ".join(reasons) or "(no reason given)")
    return "not flagged" + (f" ({'; '.join(reasons)})" if reasons else "")


def cmd_export_decide(args: argparse.Namespace) -> int:
    target = backend(args)
    decide = target.approve_export if args.verb == "approve" else target.reject_export
    info = decide(args.export_id, args.reason)
    print(f"export {info.export_id} is now {info.state}")
    return 0


def cmd_export_list(args: argparse.Namespace) -> int:
    items = backend(args).list_exports()
    if args.json:
        print_json([e.as_dict() for e in items])
    else:
        print_table([(e.export_id, e.model_id, e.contents, e.state,
                      _scan_cell(e.memorization), e.requested_by, e.approved_by or "-")
                     for e in items],
                    ("ID", "MODEL", "CONTENTS", "STATE", "MEMORIZATION", "REQUESTED BY",
                     "APPROVED BY"))
    return 0


def _scan_cell(scan: dict[str, Any] | None) -> str:
    if not isinstance(scan, dict):
        return "-"
    return "FLAGGED" if scan.get("flagged") else "ok"


def cmd_export_download(args: argparse.Namespace) -> int:
    info = backend(args).download_export(args.export_id, args.out)
    print(f"wrote {args.out} (sha256 {info.bundle_sha256})")
    return 0


def cmd_export_verify(args: argparse.Namespace) -> int:
    from appliance.config import resolve_home
    from appliance.crypto import load_public_key
    from appliance.training import export

    pub = args.pubkey or resolve_home(args.home) / "keys" / "audit-signing.pub"
    if not Path(pub).is_file():
        raise InvalidInput(f"{pub}: no public key; pass --pubkey FILE")
    report = export.verify_bundle(args.bundle, load_public_key(Path(pub)))
    if args.json:
        print_json(report)
    else:
        print(f"OK: {args.bundle} is intact and signed")
        print_fields({k: v for k, v in report.items() if not isinstance(v, dict | list)})
    return 0
