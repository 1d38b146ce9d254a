"""The reward-model quality check on pairs of our own, done the way a user would do it.

Issue 15 sets a target on a public set of human preference pairs about assistant answers (1,600
pairs to train, pairwise accuracy >= 0.62 on 700 held-out pairs, the job under 15 minutes on 2 CPU
cores with the defaults). This repository holds no such set, so this check builds comparable pairs
whose rejected answer is clearly worse by construction, in four ways:

- ``off_topic``: small talk that ignores the question;
- ``truncated``: the good answer cut off mid-sentence;
- ``wrong_intent``: a good answer, to another customer's question;
- ``rude``: the right content, told with contempt.

Questions come from two template families: family A for the training pairs, family B (other
words, another voice) for the held-out ones, and the off-topic and rude texts of the held-out
pairs are drawn from lists the training pairs never use. Nothing is tuned against the held-out
pairs. Chance is 0.5; these pairs are much easier than human preferences, so the check says
whether the pipeline learns what a preference says, not what the public target measures.

Every step goes through the ``appliance`` command on a fresh home: init, users, ``dataset ingest
--task preference`` (redacted like any dataset) as an operator, approval by compliance, ``job run
--task reward --wait`` with no hyperparameters (the bundled MiniLM, the recipe's defaults;
``--time-budget-s`` only when given here), then ``model score --file`` on both answers of every
held-out pair. It prints the pairwise accuracy with its Wilson 95% interval, per kind too, and
the job's time, and writes ``summary.json``.

    .venv/bin/python tools/pref_check.py --out /tmp/pref-check                  # 1,600 / 700
    .venv/bin/python tools/pref_check.py --out /tmp/pref-quick --train 400 --heldout 200 \\
        --time-budget-s 120                                                      # a few minutes

With ``--tune dpo,rloo`` the check goes on, on the same home, to what the reward model is for:
``--tune-pairs`` training pairs (300) are ingested as a second dataset, and each named job runs on
the bundled SmolLM2 with no hyperparameters but ``--reward-model`` (the reward model just
trained): ``dpo`` learns from the pairs, ``rloo`` from the reward model's scores of its own
samples (the pairs' prompts only). Then each tuned model and the base answer ``--tune-prompts``
held-out prompts (family B, 100), and the reward model scores both answers: the win rate against
the base with its Wilson interval (a tie counts half), beside each job's time and its card's own
figures (DPO's reward accuracy and margin on its held-out pairs; the card's win rate and KL).
The same reward model trains RL and judges it, so its win rate is an upper bound (a policy can
learn the judge's blind spots); DPO never sees the judge while training.

    .venv/bin/python tools/pref_check.py --out /tmp/pref-tune --tune dpo,rloo

Exit status: 0 ran (and, for the full size, met 0.62 within 15 minutes), 1 ran and missed it,
2 a step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# the same command runner, interval and lookup as the SFT check
from intent_check import Appliance, StepFailed, find_appliance, wilson  # noqa: E402

TARGET_ACCURACY = 0.62
TARGET_JOB_SECONDS = 15 * 60
TARGET_TUNE_SECONDS = 20 * 60  # DPO on the bundled instruct model
KINDS = ("off_topic", "truncated", "wrong_intent", "rude")

# topic -> (family A questions, family B questions, good answers); {x} is a slot value
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "lost_card": (
        ["I lost my {x} card, what should I do?", "My {x} card is missing. How do I block it?",
         "Could you help me? I can't find my {x} card anywhere."],
        ["card gone, {x} one, help", "think i dropped my {x} card somewhere, now what",
         "no idea where my {x} card went. can it be stopped?"],
        ["Block the card right away in the app under Cards, then order a replacement; it "
         "arrives in three to five working days.",
         "Freeze the card in the app first so nobody can use it, then request a new one from "
         "the Cards page."]),
    "balance": (
        ["How can I check the balance of my {x} account?", "Where do I see my {x} balance?",
         "What is the quickest way to find my {x} account balance?"],
        ["{x} balance??", "need to know whats left on my {x} account",
         "how much is on the {x} account right now"],
        ["Open the app and the balance is shown at the top of the {x} account page; it "
         "updates as soon as a payment clears.",
         "Your {x} balance is on the home screen of the app, and a statement with every "
         "payment is under Statements."]),
    "transfer": (
        ["My {x} transfer is still pending. When will it arrive?",
         "Why has my {x} transfer not arrived yet?", "Is my {x} transfer stuck?"],
        ["{x} transfer not there yet, whats going on", "sent a {x} transfer, still pending",
         "where is my {x} money transfer"],
        ["Most {x} transfers arrive within one working day; if it is still pending after "
         "that, the app shows the reason under the payment's details.",
         "A pending {x} transfer usually clears by the next working day; you can follow its "
         "status on the payment's page in the app."]),
    "refund": (
        ["How do I get a refund for my {x} order?", "Can I return the {x} I bought?",
         "I want my money back for the {x}. How?"],
        ["{x} arrived broken, want refund", "send the {x} back and get paid back, how",
         "return policy for the {x}?"],
        ["Start a return from your orders page within thirty days; once the {x} reaches us "
         "the refund goes back to your card in about five days.",
         "Choose the {x} in your order history and pick Return; we email a label, and the "
         "refund follows when the parcel arrives."]),
    "password": (
        ["I forgot my password for the {x} app. How do I reset it?",
         "How can I change my {x} password?", "The {x} app says my password is wrong."],
        ["locked out of {x}, password??", "reset {x} login pls",
         "cant log in to {x}, forgot the password"],
        ["Tap Forgot password on the {x} login screen; we send a reset link to your email "
         "that works for one hour.",
         "Use the reset link on the {x} sign-in page, then pick a new password of at least "
         "twelve characters."]),
    "delivery": (
        ["When will my {x} order be delivered?", "Where is my {x} parcel?",
         "My {x} delivery is late. What can I do?"],
        ["{x} parcel still not here", "tracking for the {x} order?",
         "ordered {x} last week, nothing yet"],
        ["The tracking link in your confirmation email shows where the {x} parcel is; most "
         "orders arrive within four working days.",
         "Open the order in your account to see the {x} delivery date and the courier's "
         "tracking page."]),
}
SLOTS = ["debit", "credit", "savings", "business", "travel", "joint", "student", "premium"]
SMALL_TALK = {
    "train": ["The weather has been lovely this week, perfect for a walk in the park.",
              "I have been reading a great novel about sailing across the ocean.",
              "Did you know that octopuses have three hearts?",
              "Our office plants are growing really well this season."],
    "heldout": ["Have you tried the new bakery on the corner? Their bread is excellent.",
                "Football season starts soon and everyone is talking about it.",
                "Mountains are beautiful in autumn when the leaves change colour."],
}
RUDE = {
    "train": ["Ugh, figure it out yourself. {a}", "Honestly, this is a stupid question. {a}",
              "I can't believe you don't know this. {a}"],
    "heldout": ["Stop wasting my time. {a}", "Obviously. Read the manual next time. {a}",
                "What a silly thing to ask. {a}"],
}


def make_pairs(n: int, split: str, seed: int) -> list[dict[str, str]]:
    """``n`` pairs of one split, the four kinds in turn."""
    rng = random.Random(f"{seed}:{split}")
    family = 0 if split == "train" else 1
    topics = sorted(TOPICS)
    pairs = []
    for i in range(n):
        topic = topics[i % len(topics)]
        x = rng.choice(SLOTS)
        question = rng.choice(TOPICS[topic][family]).format(x=x)
        good = rng.choice(TOPICS[topic][2]).format(x=x)
        kind = KINDS[(i // len(topics)) % len(KINDS)]
        if kind == "off_topic":
            bad = rng.choice(SMALL_TALK[split])
        elif kind == "truncated":
            words = good.split()
            bad = " ".join(words[: max(2, len(words) // 3)])
        elif kind == "wrong_intent":
            other = rng.choice([t for t in topics if t != topic])
            bad = rng.choice(TOPICS[other][2]).format(x=x)
        else:
            bad = rng.choice(RUDE[split]).format(a=good)
        # a serial in the prompt keeps every record distinct (ingest drops duplicates)
        pairs.append({"prompt": f"{question} (ticket {split[0]}{i})", "chosen": good,
                      "rejected": bad, "kind": kind})
    return pairs


def accuracy(wins: list[bool]) -> dict[str, Any]:
    low, high = wilson(sum(wins), len(wins))
    return {"n": len(wins), "correct": sum(wins),
            "pairwise_accuracy": sum(wins) / len(wins) if wins else 0.0,
            "wilson_95": [round(low, 4), round(high, 4)]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


def run_check(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="pref-check-"))
    work = Path(tempfile.mkdtemp(prefix="pref-files-"))
    app = Appliance(find_appliance(), home)
    train, heldout = make_pairs(args.train, "train", args.seed), make_pairs(
        args.heldout, "heldout", args.seed)
    summary: dict[str, Any] = {"train_pairs": len(train), "heldout_pairs": len(heldout),
                               "uptime_before": os.getloadavg()}
    print(f"== reward check: {len(train)} train pairs, {len(heldout)} held-out, home {home}")
    try:
        app.run("init")
        for name, role in (("olivia", "operator"), ("carol", "compliance")):
            app.add_user(name, role)
        train_file = write_jsonl(work / "train.jsonl", [
            {k: v for k, v in p.items() if k != "kind"} for p in train])
        help_text = app.run("dataset", "ingest", "--help").stdout
        shape = ["--task", "preference", "--prompt-field", "prompt", "--chosen-field", "chosen",
                 "--rejected-field", "rejected"] if "preference" in help_text else [
                 "--task", "raw", "--no-redact"]
        started = time.monotonic()
        ingest = json.loads(app.run("dataset", "ingest", str(train_file), "--name", "prefs",
                                    *shape, "--no-progress", "--json", user="olivia").stdout)
        summary["ingest_s"] = round(time.monotonic() - started, 1)
        summary["ingest"] = {"dataset_id": ingest["dataset_id"], "rows": ingest["rows"],
                             "task": shape[1]}
        app.run("dataset", "approve", ingest["dataset_id"], "--reason", "pref check",
                user="carol")
        job_args = ["job", "run", "--task", "reward", "--dataset", ingest["dataset_id"], "--wait"]
        if args.time_budget_s:
            job_args += ["--time-budget-s", str(args.time_budget_s)]
        print(f"$ appliance {' '.join(job_args)}")
        started = time.monotonic()
        done = app.run(*job_args, "--json", user="olivia", live_stderr=True, check=False)
        summary["job_wall_s"] = round(time.monotonic() - started, 1)
        job = json.loads(done.stdout) if done.stdout.strip() else {}
        if done.returncode != 0 or not job.get("model_id"):
            raise StepFailed(f"the reward job ended {job.get('state')}: {job.get('error')}")
        metrics = job.get("metrics", {})
        summary.update(job_id=job["job_id"], model_id=job["model_id"],
                       steps=metrics.get("train", {}).get("steps"),
                       epochs=metrics.get("train", {}).get("epochs"),
                       budget_stopped=metrics.get("train", {}).get("budget_stopped"),
                       card_preference=metrics.get("preference"),
                       recipe={k: v for k, v in job.get("recipe", {}).items() if k != "notes"})
        items = [{"prompt": p["prompt"], "response": p[side]}
                 for p in heldout for side in ("chosen", "rejected")]
        started = time.monotonic()
        scored = app.run("model", "score", job["model_id"], "--file",
                         str(write_jsonl(work / "heldout.jsonl", items)), user="olivia").stdout
        summary["score_s"] = round(time.monotonic() - started, 1)
        scores = [json.loads(line)["score"] for line in scored.splitlines() if line.strip()]
        wins = [scores[2 * i] > scores[2 * i + 1] for i in range(len(heldout))]
        summary["heldout"] = accuracy(wins)
        summary["by_kind"] = {k: accuracy([w for w, p in zip(wins, heldout, strict=True)
                                           if p["kind"] == k]) for k in KINDS}
        if args.tune:
            summary["tune"] = tune_check(app, work, job["model_id"], train, heldout, args,
                                         shape)
    finally:
        summary["uptime_after"] = os.getloadavg()
        summary["commands"] = app.log
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    if args.train >= 1600 and args.heldout >= 700:
        summary["target_met"] = (summary["heldout"]["pairwise_accuracy"] >= TARGET_ACCURACY
                                 and summary["job_wall_s"] < TARGET_JOB_SECONDS)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    held = summary["heldout"]
    print(f"held-out pairwise accuracy {held['pairwise_accuracy']:.3f} "
          f"({held['correct']}/{held['n']}, Wilson 95% {held['wilson_95'][0]:.3f}-"
          f"{held['wilson_95'][1]:.3f}); job {summary['job_wall_s']} s "
          f"({summary['steps']} steps, {summary['epochs']} epochs)")
    for kind, row in summary["by_kind"].items():
        print(f"  {kind:13} {row['pairwise_accuracy']:.3f} (n={row['n']}, Wilson 95% "
              f"{row['wilson_95'][0]:.3f}-{row['wilson_95'][1]:.3f})")
    for name, row in summary.get("tune", {}).get("jobs", {}).items():
        won = row["heldout_win_rate"]
        print(f"{name}: job {row['job_wall_s']} s ({row['steps']} steps); win rate against the "
              f"base {won['win_rate']:.3f} on {won['n']} held-out prompts (Wilson 95% "
              f"{won['wilson_95'][0]:.3f}-{won['wilson_95'][1]:.3f}); card: "
              + ", ".join(f"{k} {v:.3f}" for k, v in row["card"].items() if isinstance(v, float)))
    print(f"load average before {summary['uptime_before']}, after {summary['uptime_after']}")
    return summary


def tune_check(app: Appliance, work: Path, reward_model: str, train: list[dict[str, str]],
               heldout: list[dict[str, str]], args: argparse.Namespace,
               shape: list[str]) -> dict[str, Any]:
    """DPO and RL jobs with the reward model, then their win rate against the base on held-out
    prompts, judged by it."""
    pairs = train[: args.tune_pairs]
    tune_file = write_jsonl(work / "tune.jsonl", [
        {k: v for k, v in p.items() if k != "kind"} for p in pairs])
    ingest = json.loads(app.run("dataset", "ingest", str(tune_file), "--name", "tune-prefs",
                                *shape, "--no-progress", "--json", user="olivia").stdout)
    app.run("dataset", "approve", ingest["dataset_id"], "--reason", "tune check", user="carol")
    prompts = [{"prompt": p["prompt"]} for p in heldout[: args.tune_prompts]]
    prompt_file = write_jsonl(work / "prompts.jsonl", prompts)
    result: dict[str, Any] = {"pairs": len(pairs), "prompts": len(prompts), "jobs": {}}
    base = answers(app, "base:smollm2-135m-instruct", prompt_file)
    for task in args.tune.split(","):
        job_args = ["job", "run", "--task", task, "--dataset", ingest["dataset_id"],
                    "--reward-model", reward_model, "--wait"]
        if args.tune_budget_s:  # a quick run; the figures of record use the defaults
            job_args += ["--time-budget-s", str(args.tune_budget_s)]
        print(f"$ appliance {' '.join(job_args)}")
        started = time.monotonic()
        done = app.run(*job_args, "--json", user="olivia", live_stderr=True, check=False)
        wall = round(time.monotonic() - started, 1)
        job = json.loads(done.stdout) if done.stdout.strip() else {}
        if done.returncode != 0 or not job.get("model_id"):
            raise StepFailed(f"the {task} job ended {job.get('state')}: {job.get('error')}")
        metrics = job.get("metrics", {})
        tuned = answers(app, job["model_id"], prompt_file)
        items = [{"prompt": p["prompt"], "response": a or "-"}
                 for answers_ in (tuned, base) for p, a in zip(prompts, answers_, strict=True)]
        scored = app.run("model", "score", reward_model, "--file",
                         str(write_jsonl(work / f"judge-{task}.jsonl", items)),
                         user="olivia").stdout
        scores = [json.loads(line)["score"] for line in scored.splitlines() if line.strip()]
        mine, theirs = scores[: len(prompts)], scores[len(prompts):]
        wins = sum(m > t for m, t in zip(mine, theirs, strict=True))
        ties = sum(m == t for m, t in zip(mine, theirs, strict=True))
        low, high = wilson(wins + 0.5 * ties, len(prompts))
        card = {**(metrics.get("preference") or {}), **(metrics.get("judged") or {})}
        result["jobs"][task] = {
            "job_id": job["job_id"], "model_id": job["model_id"], "job_wall_s": wall,
            "steps": metrics.get("train", {}).get("steps"),
            "budget_stopped": metrics.get("train", {}).get("budget_stopped"),
            "card": {k: v for k, v in card.items() if not isinstance(v, dict)},
            "heldout_win_rate": {"n": len(prompts), "wins": wins, "ties": ties,
                                 "win_rate": (wins + 0.5 * ties) / len(prompts),
                                 "wilson_95": [round(low, 4), round(high, 4)],
                                 "reward_mean": sum(mine) / len(mine),
                                 "base_reward_mean": sum(theirs) / len(theirs)},
            "examples": [{"prompt": p["prompt"], "tuned": a, "base": b}
                         for p, a, b in list(zip(prompts, tuned, base, strict=True))[:5]],
        }
        if task == "dpo":
            result["jobs"][task]["target_met"] = wall < TARGET_TUNE_SECONDS
    return result


def answers(app: Appliance, model: str, prompt_file: Path) -> list[str]:
    """Greedy answers (the product's default) to each prompt of the file, in order."""
    out = app.run("model", "generate", model, "--file", str(prompt_file), "--max-new-tokens",
                  "64", user="olivia").stdout
    return [json.loads(line)["text"] for line in out.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="reward-model check on constructed pairs")
    parser.add_argument("--out", required=True, help="directory for summary.json")
    parser.add_argument("--train", type=int, default=1600, help="training pairs (1600)")
    parser.add_argument("--heldout", type=int, default=700, help="held-out pairs (700)")
    parser.add_argument("--time-budget-s", type=float, help="the job's training budget "
                        "(default: the recipe's)")
    parser.add_argument("--seed", type=int, default=15, help="seed of the pairs")
    parser.add_argument("--tune", default="", help="then tune SmolLM2 with the reward model: "
                        "dpo, rloo or both (comma-separated)")
    parser.add_argument("--tune-pairs", type=int, default=300, help="pairs to tune on (300)")
    parser.add_argument("--tune-prompts", type=int, default=100,
                        help="held-out prompts to judge (100)")
    parser.add_argument("--tune-budget-s", type=float,
                        help="the tuning jobs' training budget (default: the recipe's)")
    args = parser.parse_args(argv)
    try:
        summary = run_check(args)
    except StepFailed as exc:
        print(f"step failed: {exc}", file=sys.stderr)
        return 2
    return 0 if summary.get("target_met", True) else 1


if __name__ == "__main__":
    sys.exit(main())
