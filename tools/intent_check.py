"""The SFT quality check on our own intent data, done the way a user would do it.

Issue 14's target, on data of our own (tools/intent_data.py): 50 intents, 10 train queries per
intent, framed as generation (query -> intent name). With the product's defaults on 2 CPU cores
the SFT job must finish in under 20 minutes and reach >= 0.65 exact match on 500 held-out queries
written in another style; the untuned base should score near 0.

Every step goes through the ``appliance`` command on a fresh home: init, users, ingest the train
queries as a ``--task sft`` dataset (redacted like any other; when the ingest warns that redaction
changed intent names, again with ``--keep-field intent``, as a user would), a compliance
approval, ``job run``
with no hyperparameters, then ``model generate --file`` on the held-out queries for the tuned
model and for the base (``base:<name>``). Where this build's CLI lacks ``--file`` or ``base:``,
the same answers come from the service function or from the base directory and
``appliance.training.generation.generate_batch``, and the summary says so.

Exact match compares stripped, case-folded text with runs of whitespace made one space.

    .venv/bin/python tools/intent_check.py --out /tmp/intent-check            # the full check
    .venv/bin/python tools/intent_check.py --out /tmp/intent-smoke --smoke    # 8 x 3, 60 s

Exit status: 0 the check ran (and, for the full check, met the target), 1 it ran and missed the
target, 2 a step failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intent_data import HELDOUT_FILE, TRAIN_FILE, normalize  # noqa: E402

DEFAULT_BASE = "smollm2-135m-instruct"
TARGET_EXACT_MATCH = 0.65
TARGET_JOB_SECONDS = 20 * 60
#: Longer than any intent name in SmolLM2's tokens; an answer cut here is wrong anyway.
MAX_NEW_TOKENS = 24
SMOKE_CLASSES, SMOKE_PER_CLASS, SMOKE_HELDOUT_PER_CLASS, SMOKE_BUDGET_S = 8, 3, 4, 60
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}


class StepFailed(Exception):
    """A command of the check failed; the message names it."""


@dataclass
class Appliance:
    """The ``appliance`` command on one home, with each user's token."""

    exe: str
    home: Path
    tokens: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def run(self, *args: str, user: str | None = None, check: bool = True,
            live_stderr: bool = False) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("APPLIANCE_") or k == "APPLIANCE_PASSPHRASE"}
        env.update(OFFLINE)
        if user:
            env["APPLIANCE_TOKEN"] = self.tokens[user]
        argv = [self.exe, "--home", str(self.home), *args]
        self.log.append(" ".join(["appliance", *args]) + (f"   # as {user}" if user else ""))
        done = subprocess.run(argv, env=env, text=True, stdout=subprocess.PIPE,
                              stderr=None if live_stderr else subprocess.PIPE, check=False)
        if check and done.returncode != 0:
            raise StepFailed(f"appliance {' '.join(args[:3])} exited {done.returncode}: "
                             f"{(done.stderr or '').strip()[-2000:]} {done.stdout.strip()[-500:]}")
        return done

    def json(self, *args: str, user: str | None = None, live_stderr: bool = False) -> Any:
        return json.loads(self.run(*args, "--json", user=user, live_stderr=live_stderr).stdout)

    def add_user(self, name: str, role: str) -> None:
        out = self.run("user", "add", name, "--role", role).stdout
        self.tokens[name] = out.strip().splitlines()[-1].strip()

    def help_text(self, *args: str) -> str:
        return self.run(*args, "--help").stdout


class LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while the job runs (the cores are shared)."""

    def __init__(self, every_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every_s, self.samples = every_s, [os.getloadavg()[0]]
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._done.set()
        self.join()
        return {"mean": round(sum(self.samples) / len(self.samples), 2),
                "max": round(max(self.samples), 2), "samples": len(self.samples)}


def load_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def smoke_subset(train: list[dict[str, str]], heldout: list[dict[str, str]]
                 ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """8 intents, 3 train and 4 held-out queries each: proves the pipeline, measures nothing."""
    intents = sorted({r["intent"] for r in train})[:SMOKE_CLASSES]

    def take(records: list[dict[str, str]], n: int) -> list[dict[str, str]]:
        counts: Counter[str] = Counter()
        picked = []
        for record in records:
            if record["intent"] in intents and counts[record["intent"]] < n:
                counts[record["intent"]] += 1
                picked.append(record)
        return picked

    return take(train, SMOKE_PER_CLASS), take(heldout, SMOKE_HELDOUT_PER_CLASS)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(golds: list[str], answers: list[str]) -> dict[str, Any]:
    hits = [normalize(a) == normalize(g) for g, a in zip(golds, answers, strict=True)]
    n, k = len(hits), sum(hits)
    low, high = wilson(k, n)
    return {"n": n, "correct": k, "exact_match": k / n if n else 0.0, "wilson_95": [low, high]}


def per_class(golds: list[str], answers: list[str]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "correct": 0,
                                                            "wrong": Counter()})
    for gold, answer in zip(golds, answers, strict=True):
        row = table[gold]
        row["n"] += 1
        if normalize(answer) == normalize(gold):
            row["correct"] += 1
        else:
            row["wrong"][normalize(answer)[:40] or "(empty)"] += 1
    return {k: {"n": v["n"], "correct": v["correct"], "accuracy": v["correct"] / v["n"],
                "top_wrong": v["wrong"].most_common(2)} for k, v in sorted(table.items())}


# --- generation ----------------------------------------------------------------------------


def generate_cli(app: Appliance, model: str, prompts_file: Path, user: str) -> list[str]:
    out = app.run("model", "generate", model, "--file", str(prompts_file),
                  "--max-new-tokens", str(MAX_NEW_TOKENS), user=user).stdout
    return [json.loads(line)["text"] for line in out.splitlines() if line.strip()]


def generate_service(home: Path, model: str, prompts: list[str]) -> list[str]:
    """This build's CLI has no --file: the same audited service call, one prompt at a time
    (the one form every build's ``models.generate`` takes: a string and max_new_tokens)."""
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
    from appliance.context import open_context
    from appliance.gate import Principal
    from appliance.training import models

    ctx = open_context(home)
    try:
        operator = Principal("olivia", "operator")
        return [str(models.generate(ctx, operator, model, p, MAX_NEW_TOKENS)) for p in prompts]
    finally:
        ctx.close()


def generate_base_directly(base_dir: Path, prompts: list[str]) -> list[str]:
    """This build cannot generate with a base by name: load its directory (local files only)."""
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from appliance.training.generation import GenerationOptions, generate_batch

    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base_dir, local_files_only=True)
    options = GenerationOptions(max_new_tokens=MAX_NEW_TOKENS)
    return [g.text for g in generate_batch(model, tokenizer, prompts, options)]


# --- pictures ------------------------------------------------------------------------------


def write_charts(out: Path, classes: dict[str, dict[str, Any]],
                 base: dict[str, dict[str, Any]] | None) -> list[str]:
    """A PNG (matplotlib, where installed) and always an SVG of per-class accuracy."""
    notes = [f"wrote {_write_svg(out / 'per_class_accuracy.svg', classes, base)}"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        notes.append("no PNG: matplotlib is not installed in this environment (SVG written)")
        return notes
    names = list(classes)
    fig, ax = plt.subplots(figsize=(12, max(4, 0.22 * len(names))))
    ax.barh(names, [classes[n]["accuracy"] for n in names], color="#3b6ea8", label="fine-tuned")
    if base:
        ax.barh(names, [base.get(n, {}).get("accuracy", 0.0) for n in names], color="#d08c3a",
                height=0.35, label="base")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("exact match on held-out queries")
    ax.legend(loc="lower right")
    fig.tight_layout()
    png = out / "per_class_accuracy.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    notes.append(f"wrote {png}")
    return notes


def _write_svg(path: Path, classes: dict[str, dict[str, Any]],
               base: dict[str, dict[str, Any]] | None) -> Path:
    row, left, width = 16, 190, 400
    names = list(classes)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" '
             f'height="{row * len(names) + 40}" font-family="sans-serif" font-size="11">']
    for i, name in enumerate(names):
        y = 20 + i * row
        accuracy = classes[name]["accuracy"]
        parts.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end">{name}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{accuracy * width:.1f}" height="12" '
                     'fill="#3b6ea8"/>')
        if base and name in base:
            bar = base[name]["accuracy"] * width
            parts.append(f'<rect x="{left}" y="{y + 8}" width="{bar:.1f}" height="4" '
                         'fill="#d08c3a"/>')
        parts.append(f'<text x="{left + accuracy * width + 4}" y="{y + 11}">{accuracy:.1f}</text>')
    parts.append(f'<text x="{left}" y="12">exact match per intent (blue: fine-tuned, orange: '
                 'base)</text></svg>')
    path.write_text("\n".join(parts) + "\n", "utf-8")
    return path


# --- the check -----------------------------------------------------------------------------


def find_appliance() -> str:
    beside = Path(sys.executable).with_name("appliance")
    if beside.exists():
        return str(beside)
    repo = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "appliance"
    if repo.exists():
        return str(repo)
    raise SystemExit("no appliance command: run `make install` or use .venv/bin/python")


def convert_bundled(app: Appliance, notes: list[str]) -> float | None:
    """What an install does once: convert the bundled LLM and register it (so the job's time
    is the job's). A build without the module converts at the job's first use instead."""
    env = {**os.environ, **OFFLINE}
    started = time.monotonic()
    done = subprocess.run([str(Path(app.exe).with_name("python")), "-m",
                           "appliance.training.bundled", "--home", str(app.home)],
                          env=env, text=True, capture_output=True, check=False)
    seconds = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        notes.append(f"no install-time conversion of the bundled base here "
                     f"({(done.stderr or done.stdout).strip()[-300:]})")
        return None
    notes.append(f"bundled base converted and registered in {seconds} s (once per install, "
                 "not counted in the job's time)")
    return seconds


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, heldout = load_jsonl(TRAIN_FILE), load_jsonl(HELDOUT_FILE)
    if args.smoke:
        train, heldout = smoke_subset(train, heldout)
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="intent-check-"))
    app = Appliance(find_appliance(), home)
    summary: dict[str, Any] = {"mode": "smoke" if args.smoke else "full", "home": str(home),
                               "classes": len({r["intent"] for r in train}),
                               "dataset_records": len(train), "heldout": len(heldout),
                               "notes": []}
    notes: list[str] = summary["notes"]
    say = print

    say(f"== intent check ({summary['mode']}): {summary['classes']} intents, "
        f"{len(train)} train queries, {len(heldout)} held-out, home {home}")
    app.run("init")
    for name, role in (("olivia", "operator"), ("carol", "compliance"), ("adam", "admin")):
        app.add_user(name, role)
    if args.register_base:
        app.run("model", "base", "add", args.base_model or DEFAULT_BASE,
                str(Path(args.register_base).resolve()), user="adam")
        notes.append(f"registered {args.register_base} as base "
                     f"{args.base_model or DEFAULT_BASE} (admin)")

    if not args.base_model:
        summary["bundled_conversion_s"] = convert_bundled(app, notes)

    work = Path(tempfile.mkdtemp(prefix="intent-files-"))
    train_file, prompts_file = work / "train.jsonl", work / "heldout_prompts.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in train), "utf-8")
    prompts_file.write_text("".join(json.dumps({"prompt": r["query"]}) + "\n" for r in heldout),
                            "utf-8")

    ingest_args = ["dataset", "ingest", str(train_file), "--name", "intent-train", "--task",
                   "sft", "--prompt-field", "query", "--response-field", "intent", "--no-progress"]
    ingest = app.json(*ingest_args, user="olivia")
    advice = [w for w in ingest.get("warnings", []) if "--keep-field intent" in w]
    summary["first_ingest"] = {"dataset_id": ingest["dataset_id"], "warnings": advice}
    if advice and not args.redact_intents:
        # What its user does on reading the warning: intent names are not personal data.
        say(f"ingest warned: {advice[0]}")
        say("re-ingesting with --keep-field intent (the queries are still redacted)")
        ingest = app.json(*ingest_args, "--keep-field", "intent", user="olivia")
        notes.append(f"the first ingest ({summary['first_ingest']['dataset_id']}) warned that "
                     "redaction changed intent names; the check re-ingested with --keep-field "
                     "intent, as its user would (--redact-intents measures the first)")
    dataset_id = ingest["dataset_id"]
    redacted = {k: v.get("values_with_pii", 0) for k, v in ingest.get("fields", {}).items()}
    summary.update(dataset_id=dataset_id, dataset_rows=ingest["rows"],
                   values_with_pii=redacted)
    say(f"ingested {dataset_id}: {ingest['rows']} records (values with PII found: {redacted})")
    review = app.run("dataset", "sample", dataset_id, "-n", str(ingest["rows"]), user="carol")
    stored = [json.loads(line) for line in review.stdout.splitlines() if line.strip()]
    known = {r["intent"] for r in train}
    mangled = Counter(r["intent"] for r in stored if r.get("intent") not in known)
    summary["responses_changed_by_redaction"] = dict(mangled)
    if mangled:
        notes.append(f"redaction changed {sum(mangled.values())} of {len(stored)} stored intent "
                     f"names ({', '.join(sorted(mangled))}): those records teach a wrong answer")
    say(f"compliance reviewed {len(stored)} stored records; intent names changed by redaction: "
        f"{dict(mangled) or 'none'}")
    app.run("dataset", "approve", dataset_id, "--reason", "intent check: synthetic queries",
            user="carol")

    job_args = ["job", "run", "--task", "sft", "--dataset", dataset_id, "--wait"]
    if args.base_model:
        job_args += ["--base-model", args.base_model]
    if args.smoke:
        job_args += ["--time-budget-s", str(SMOKE_BUDGET_S)]
    say(f"$ appliance {' '.join(job_args)}   # no hyperparameters: the recipe chooses")
    sampler = LoadSampler()
    sampler.start()
    started = time.monotonic()
    job_run = app.run(*job_args, "--json", user="olivia", check=False, live_stderr=True)
    job_wall = time.monotonic() - started
    summary["load_average_during_job"] = sampler.stop()
    job = json.loads(job_run.stdout) if job_run.stdout.strip() else {}
    summary.update(job_id=job.get("job_id"), job_state=job.get("state"),
                   job_wall_s=round(job_wall, 1), job_run_s=_seconds_between(
                       job.get("started_at"), job.get("finished_at")),
                   model_id=job.get("model_id"))
    if job_run.returncode != 0 or not job.get("model_id"):
        raise StepFailed(f"the SFT job ended {job.get('state')}: {job.get('error')}")
    train_metrics = job.get("metrics", {}).get("train", {})
    summary.update(steps=train_metrics.get("steps"), epochs=train_metrics.get("epochs"),
                   train_split=(job.get("split", {}).get("datasets", {}).get(dataset_id, {})
                                .get("sizes")),
                   recipe={k: v for k, v in job.get("recipe", {}).items() if k != "notes"},
                   base_model=job.get("base_model"))
    card = app.json("model", "show", job["model_id"], user="olivia").get("card", {})
    summary["card_generation"] = {k: v for k, v in card.get("metrics", {}).get(
        "generation", {}).items() if k != "examples"} or None
    summary["card_memorization"] = card.get("metrics", {}).get("memorization")

    prompts, golds = [r["query"] for r in heldout], [r["intent"] for r in heldout]
    has_file = "--file" in app.help_text("model", "generate")
    started = time.monotonic()
    if has_file:
        answers = generate_cli(app, job["model_id"], prompts_file, "olivia")
    else:
        notes.append("this build's `model generate` has no --file: the tuned model answered "
                     "through models.generate, one audited call per query")
        answers = generate_service(home, job["model_id"], prompts)
    summary["generate_model_s"] = round(time.monotonic() - started, 1)
    base_name = summary["base_model"] or args.base_model or DEFAULT_BASE
    started = time.monotonic()
    base_answers: list[str] | None = None
    if has_file and "base:" in app.help_text("model", "generate"):
        base_answers = generate_cli(app, f"base:{base_name}", prompts_file, "olivia")
    else:
        bases = {b["name"]: b["path"] for b in app.json("model", "base", "list", user="olivia")}
        try:
            base_answers = generate_service(home, f"base:{base_name}", prompts)
            notes.append("the base answered through models.generate with base:<name>")
        except Exception as exc:  # an older build: no base:<name>
            notes.append(f"models.generate refused base:{base_name} ({exc})")
        if base_answers is None and base_name in bases:
            notes.append("this build cannot generate with base:<name>: the base answered from its "
                         "registered directory through generation.generate_batch")
            base_answers = generate_base_directly(Path(bases[base_name]), prompts)
        elif base_answers is None:
            notes.append(f"base {base_name} is not registered: no base figures")
    summary["generate_base_s"] = round(time.monotonic() - started, 1)

    summary["model"] = score(golds, answers)
    classes = per_class(golds, answers)
    base_classes = None
    if base_answers is not None:
        summary["base"] = score(golds, base_answers)
        base_classes = per_class(golds, base_answers)
    summary["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    summary["per_class"] = classes
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for i, record in enumerate(heldout):
            handle.write(json.dumps({"query": record["query"], "intent": record["intent"],
                                     "model": answers[i],
                                     "base": base_answers[i] if base_answers else None}) + "\n")
    with (out / "per_class.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["intent", "n", "correct", "accuracy", "base_accuracy", "top_wrong"])
        for name, row in classes.items():
            writer.writerow([name, row["n"], row["correct"], f"{row['accuracy']:.3f}",
                             f"{base_classes[name]['accuracy']:.3f}" if base_classes else "",
                             "; ".join(f"{a} x{n}" for a, n in row["top_wrong"])])
    notes.extend(write_charts(out, classes, base_classes))
    summary["commands"] = app.log
    if not args.smoke:
        summary["target"] = {
            "exact_match": TARGET_EXACT_MATCH, "job_s": TARGET_JOB_SECONDS,
            "met": summary["model"]["exact_match"] >= TARGET_EXACT_MATCH
            and job_wall < TARGET_JOB_SECONDS}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    print_summary(summary, say)
    shutil.rmtree(work)
    if not args.home and not args.keep_home:
        shutil.rmtree(home)  # a temp home holds a converted base (hundreds of MB)
        say(f"removed the temporary home {home} (--keep-home keeps it)")
    return summary


def _seconds_between(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    def parse(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    return round((parse(end) - parse(start)).total_seconds(), 1)


def print_summary(summary: dict[str, Any], say: Any) -> None:
    model, base = summary["model"], summary.get("base")
    say("\n== intent check summary")
    say(f"classes {summary['classes']}, dataset {summary['dataset_records']} records "
        f"(job split {summary.get('train_split')}), held-out {summary['heldout']}")
    say(f"job {summary['job_id']} {summary['job_state']}: `job run --wait` {summary['job_wall_s']}"
        f" s (worker {summary.get('job_run_s')} s), "
        f"{summary.get('steps')} steps, {summary.get('epochs')} epochs, base "
        f"{summary.get('base_model')}")
    say(f"recipe {json.dumps(summary.get('recipe', {}), sort_keys=True)}")
    low, high = model["wilson_95"]
    say(f"fine-tuned exact match {model['exact_match']:.3f} ({model['correct']}/{model['n']}, "
        f"Wilson 95% {low:.3f}-{high:.3f})")
    if base:
        low, high = base["wilson_95"]
        say(f"base       exact match {base['exact_match']:.3f} ({base['correct']}/{base['n']}, "
            f"Wilson 95% {low:.3f}-{high:.3f})")
    if summary.get("card_generation"):
        say(f"model card (its own test split): {json.dumps(summary['card_generation'])}")
    if summary.get("card_memorization"):
        memo = summary["card_memorization"]
        say(f"memorization scan: flagged {memo.get('flagged')}, reasons {memo.get('reasons')}")
    load = summary["load_average_during_job"]
    say(f"load average during the job: mean {load['mean']}, max {load['max']} "
        f"({os.cpu_count()} CPUs); at the end {summary['load_average_end']}")
    say(f"generation: tuned {summary['generate_model_s']} s, base {summary['generate_base_s']} s")
    worst = sorted(summary["per_class"].items(), key=lambda kv: kv[1]["accuracy"])[:10]
    say("weakest intents (accuracy, most common wrong answers):")
    for name, row in worst:
        wrong = ", ".join(f"{a} x{n}" for a, n in row["top_wrong"]) or "-"
        say(f"  {name:26} {row['accuracy']:.2f}  {wrong}")
    for note in summary["notes"]:
        say(f"note: {note}")
    if "target" in summary:
        target = summary["target"]
        say(f"target (>= {target['exact_match']} exact match, job < {target['job_s']} s): "
            f"{'MET' if target['met'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SFT quality check on our own intent data")
    parser.add_argument("--out", required=True, help="directory for summary.json, CSV, charts")
    parser.add_argument("--smoke", action="store_true",
                        help=f"{SMOKE_CLASSES} intents x {SMOKE_PER_CLASS} queries, "
                             f"{SMOKE_BUDGET_S} s budget: proves the pipeline, measures nothing")
    parser.add_argument("--home", help="appliance home to create (default: a new temp dir)")
    parser.add_argument("--base-model", help="registered base to tune (default: the product's "
                        f"default for sft, {DEFAULT_BASE})")
    parser.add_argument("--register-base", metavar="DIR",
                        help="register this model directory first (as an admin) under "
                             "--base-model or the default name")
    parser.add_argument("--redact-intents", action="store_true",
                        help="train on the first ingest even when it warns that redaction "
                             "changed intent names (default: re-ingest with --keep-field intent)")
    parser.add_argument("--keep-home", action="store_true",
                        help="keep the temporary home after a successful run (a failed run "
                             "always keeps it)")
    args = parser.parse_args(argv)
    try:
        summary = run_check(args)
    except StepFailed as failed:
        print(f"intent check FAILED: {failed}", file=sys.stderr)
        return 2
    return 1 if summary.get("target", {}).get("met") is False else 0


if __name__ == "__main__":
    sys.exit(main())
