"""The ML core: records in memory -> a trained model's weights as bytes, with its metrics.

Independent of the vault and the job table: records come in as Python objects, checkpoints and
weights go out as bytes through :class:`TrainHooks`. The job layer (:mod:`.worker`) feeds it from
the gate and stores what it returns in the vault; tests feed it directly.

Flow: examples -> deterministic split per dataset (stratified for classification) -> multi-task
mix -> recipe -> token features -> transformers ``Trainer`` (+ peft) -> best validation epoch ->
validation and test metrics -> (causal LMs) held-out generation against the base, and the
memorization scan -> safetensors bytes.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from appliance.errors import InvalidInput
from appliance.scratch import make_scratch
from appliance.training import checkpoint
from appliance.training.config import JobConfig
from appliance.training.data import (
    FeatureDataset,
    PaddingCollator,
    sorted_by_length,
)
from appliance.training.dropout import use_cpu_dropout
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.modeling import (
    ModelSpec,
    build_model,
    lora_targets,
    weights_to_bytes,
)
from appliance.training.prepare import Prepared, prepare
from appliance.training.recipe import (
    Recipe,
    choose_recipe,
)
from appliance.training.tasks import Task
from appliance.training.tasks.reward import PairwiseScores
from appliance.training.trainer import (
    SAVE_ON_STOP,
    ApplianceTrainer,
    BudgetClock,
    JobCallback,
    TrainHooks,
    load_trainable_weights,
    supports_logits_to_keep,
)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".npz")


@dataclass
class Outcome:
    """What a run produced. ``weights`` is None unless it succeeded."""

    status: str  # "succeeded" | "cancelled" | "interrupted" | "stopped"
    reason: str | None = None
    weights: bytes | None = None
    spec: ModelSpec | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    hardware: dict[str, Any] = field(default_factory=dict)
    trials: list[dict[str, Any]] | None = None


@dataclass
class Fit:
    model: nn.Module
    trainer: ApplianceTrainer
    callback: JobCallback
    recipe: Recipe
    spec: ModelSpec
    train_metrics: dict[str, Any] = field(default_factory=dict)
    #: Validation scores of the weights in ``model``, when already computed.
    validation: dict[str, Any] | None = None


def run_training(
    config: JobConfig,
    datasets: Sequence[DatasetInput],
    base: BaseModel,
    hooks: TrainHooks | None = None,
    resume: bytes | None = None,
    scratch_dir: Path | None = None,
) -> Outcome:
    """Train (or search) as ``config`` says; resume from checkpoint bytes when given."""
    hooks = hooks or TrainHooks()
    started = time.monotonic()
    device, precision = resolve_device(config)
    gpu_memory = torch.cuda.get_device_properties(0).total_memory if device == "cuda" else None
    prepared = prepare(config, datasets, base, hooks)
    if prepared.task.needs_judge:
        if hooks.judge is None:
            raise InvalidInput(f"task '{config.task}' learns from a reward model, and the job "
                               "was given none (reward_model)")
        prepared.task.use_judge(hooks.judge)
    state = checkpoint.from_bytes(resume) if resume is not None else None
    if state is not None and state.get("split_sha256") != prepared.split["sha256"]:
        raise InvalidInput("the datasets changed since the checkpoint was taken; cannot resume")
    recipe = (
        Recipe.from_dict(json.loads(state.get("search_recipe") or state["recipe"]))
        if state is not None
        else choose_recipe(
            config,
            prepared.task.model_kind,
            prepared.base,
            prepared.stats,
            device,
            precision,
            lora_targets(prepared.base.model_type),
            prepared.pooling,
            gpu_memory,
        )
    )
    for note in recipe.notes:
        hooks.log(f"recipe: {note}")
    # locked while in use, so a start-up sweep removes it only after this process died
    entry = make_scratch(scratch_dir or Path(tempfile.gettempdir()), "trainer")
    scratch = entry.path
    try:
        if config.kind == "search":
            from appliance.training.search import run_search

            outcome = run_search(config, prepared, base, recipe, hooks, state, scratch)
        else:
            outcome = _train_once(config, prepared, base, recipe, hooks, state, scratch)
    finally:
        try:
            _remove_scratch(scratch)
        finally:
            entry.remove()
    outcome.split = prepared.split
    outcome.duration_s = round(time.monotonic() - started, 2)
    outcome.hardware = hardware_facts(device, precision)
    return outcome


def _train_once(
    config: JobConfig,
    prepared: Prepared,
    base: BaseModel,
    recipe: Recipe,
    hooks: TrainHooks,
    state: dict[str, Any] | None,
    scratch: Path,
) -> Outcome:
    digest = prepared.split["sha256"]
    fit = fit_model(
        prepared,
        base,
        recipe,
        with_extra_state(hooks, lambda: {"split_sha256": digest}),
        state,
        scratch,
    )
    if fit.callback.stop_reason is not None:
        status = stop_status(fit.callback.stop_reason)
        return Outcome(status=status, reason=fit.callback.stop_reason, recipe=fit.recipe.as_dict())
    metrics = final_metrics(fit, prepared, hooks)
    weights = weights_to_bytes(fit.model, fit.spec)
    return Outcome(
        status="succeeded",
        weights=weights,
        spec=fit.spec,
        metrics=metrics,
        recipe=fit.recipe.as_dict(),
    )


def stop_status(reason: str) -> str:
    """'cancelled' or 'interrupted' (progress kept), else 'stopped' (a revoked dataset, say)."""
    return reason if reason in SAVE_ON_STOP else "stopped"


# -- fitting -------------------------------------------------------------------------------------


def new_model(prepared: Prepared, base: BaseModel, recipe: Recipe) -> tuple[nn.Module, ModelSpec]:
    task = prepared.task
    spec = ModelSpec(
        task=task.name,
        method=recipe.method,
        model_kind=task.model_kind,
        base_model=base.name,
        base_sha256=base.sha256,
        labels=prepared.labels,
        pooling=prepared.pooling,
        lora=recipe.lora,
        tags=prepared.tags,
        max_length=recipe.max_length,
    )
    torch.manual_seed(recipe.seed)  # the head's initial weights
    model = build_model(
        spec,
        base.path,
        dtype=base_dtype(task.model_kind, recipe),
        quantization=recipe.quantization,
        gradient_checkpointing=recipe.gradient_checkpointing,
    )
    if recipe.freeze_embeddings:
        # half of MiniLM's weights and most of its optimizer time, for no measurable accuracy
        inner: Any = getattr(model, "encoder", model)
        inner.get_input_embeddings().weight.requires_grad_(False)
    if recipe.device == "cpu":
        use_cpu_dropout(model)  # torch's CPU dropout masks cost a quarter of each step
    return model, spec


def base_dtype(model_kind: str, recipe: Recipe) -> torch.dtype | None:
    """bf16 base weights for LoRA on a bf16 GPU (the adapters stay fp32); else as stored."""
    if recipe.device == "cuda" and recipe.precision == "bf16" and model_kind == "causal" and (
        recipe.lora is not None
    ):
        return torch.bfloat16
    return None


def fit_model(
    prepared: Prepared,
    base: BaseModel,
    recipe: Recipe,
    hooks: TrainHooks,
    state: dict[str, Any] | None,
    scratch: Path,
    phase: str = "training",
) -> Fit:
    task = prepared.task
    if state is not None:  # the plan the interrupted run made, not a fresh one
        recipe = Recipe.from_dict(json.loads(state["recipe"]))
    model, spec = new_model(prepared, base, recipe)
    if state is not None:
        load_trainable_weights(model, state["model"])
        hooks.log(f"resuming from step {json.loads(state['trainer_state'])['global_step']}")
    outer_extra = hooks.extra_state
    hooks = with_extra_state(
        hooks, lambda: {**outer_extra(), "recipe": json.dumps(recipe.as_dict())}
    )
    budget = BudgetClock(recipe.time_budget_s, hooks.clock) if recipe.time_budget_s else None
    callback = JobCallback(
        hooks,
        task.selection_metric,
        task.greater_is_better,
        recipe.early_stopping_patience,
        phase=phase,
        budget=budget,
    )
    if state is not None and "tracker" in state:
        callback.load_state_dict(state["tracker"])
    trainer = make_trainer(model, prepared, recipe, hooks, state, scratch, callback, budget)
    callback.attach(trainer)
    result = trainer.train()
    callback.attach(None)  # later evaluations are final scores, not epochs to track
    fit = Fit(trainer._module(), trainer, callback, recipe, spec, dict(result.metrics))
    if callback.stop_reason is None:
        _keep_best(fit, prepared, hooks)
    return fit


def _keep_best(fit: Fit, prepared: Prepared, hooks: TrainHooks) -> None:
    """Score the final weights on validation; go back to an earlier epoch's if it was better."""
    task = prepared.task
    scores = evaluate_split(fit, prepared, prepared.validation, task.needs_predictions)
    if task.selection_metric not in scores:
        return
    state = fit.trainer.state
    value = float(scores[task.selection_metric])
    if fit.callback.consider_final(value, state.global_step, float(state.epoch or 0.0)):
        fit.validation = scores
        hooks.log(f"final weights: validation {task.selection_metric} {value:.4f}")
    else:
        assert fit.callback.best_weights is not None
        load_trainable_weights(fit.model, fit.callback.best_weights)
        hooks.log(
            f"final validation {task.selection_metric} {value:.4f}; keeping the best "
            f"epoch's weights ({fit.callback.best_metric:.4f})"
        )


def _collator(prepared: Prepared, recipe: Recipe) -> Any:
    multiple = 8 if recipe.device == "cuda" else None  # tensor cores like multiples of 8
    pad = int(prepared.tokenizer.pad_token_id)
    own = prepared.task.collator(pad, multiple)  # pairs of sequences (reward, dpo)
    return own if own is not None else PaddingCollator(pad, multiple)


def make_trainer(
    model: nn.Module,
    prepared: Prepared,
    recipe: Recipe,
    hooks: TrainHooks,
    state: dict[str, Any] | None,
    scratch: Path,
    callback: JobCallback | None,
    budget: BudgetClock | None = None,
) -> ApplianceTrainer:
    from transformers import TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    task = prepared.task
    train = task.encode(prepared.train, prepared.tokenizer, recipe.max_length, prepared.labels)
    validation = sorted_by_length(
        task.encode(prepared.validation, prepared.tokenizer, recipe.max_length, prepared.labels)
    )
    steps_per_epoch = max(
        1, -(-len(train) // (recipe.batch_size * recipe.gradient_accumulation_steps))
    )
    args = TrainingArguments(
        output_dir=str(scratch),
        save_strategy="no",  # checkpoints go to the vault, through the callback
        eval_strategy="epoch",
        logging_strategy="steps",
        logging_steps=max(1, min(10, steps_per_epoch // 4)),
        report_to="none",
        disable_tqdm=True,
        learning_rate=recipe.learning_rate,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=task.eval_batch_size or max(recipe.batch_size, 64),
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        num_train_epochs=recipe.epochs,
        warmup_steps=recipe.warmup_ratio,
        weight_decay=recipe.weight_decay,
        lr_scheduler_type="linear",
        optim="adamw_torch",
        seed=recipe.seed,
        data_seed=recipe.seed,
        use_cpu=recipe.device == "cpu",
        bf16=recipe.precision == "bf16",
        fp16=recipe.precision == "fp16",
        activation_checkpointing=recipe.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False}
        if recipe.gradient_checkpointing
        else None,
        dataloader_num_workers=0,
        dataloader_pin_memory=recipe.device == "cuda",
        remove_unused_columns=False,
        prediction_loss_only=not task.needs_predictions,
        label_names=["labels"],
        # what transformers' EarlyStoppingCallback compares; no best checkpoint is saved or
        # loaded (save_strategy "no"): BestWeightsCallback keeps the best weights in memory
        metric_for_best_model=task.selection_metric,
        greater_is_better=task.greater_is_better,
    )
    group = FeatureDataset(train).lengths() if recipe.group_by_length else None
    trainer = ApplianceTrainer(
        model=model,
        args=args,
        train_dataset=FeatureDataset(train),
        eval_dataset=FeatureDataset(validation),
        data_collator=_collator(prepared, recipe),
        compute_metrics=_epoch_metrics(task) if task.needs_predictions else None,
        callbacks=callback.callbacks if callback is not None else None,
        head_learning_rate=recipe.head_learning_rate,
        group_lengths=group,
        resume_state=state if state is not None and "trainer_state" in state else None,
        budget=budget,
        # with a time budget the step count is only a ceiling: warm up over a tenth of an epoch
        warmup_steps=max(1, round(recipe.warmup_ratio * steps_per_epoch)) if budget else None,
        answer_logits_only=task.model_kind == "causal" and supports_logits_to_keep(model),
        task_loss=task.loss_function(),
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def _epoch_metrics(task: Task) -> Any:
    """The trainer's ``compute_metrics``: the task's scores of one validation pass."""

    def compute(prediction: Any) -> dict[str, float]:
        outputs = prediction.predictions
        if isinstance(outputs, tuple):
            outputs = outputs[0]
        return task.eval_metrics(outputs, prediction.label_ids)

    return compute


# -- scoring -------------------------------------------------------------------------------------


def evaluate_split(
    fit: Fit, prepared: Prepared, examples: list[dict[str, Any]], needs_predictions: bool
) -> dict[str, Any]:
    task = prepared.task
    if not examples:
        return {}
    features = sorted_by_length(
        task.encode(examples, prepared.tokenizer, fit.recipe.max_length, prepared.labels)
    )
    output = fit.trainer.predict(FeatureDataset(features), metric_key_prefix="split")  # type: ignore[arg-type]
    loss = float((output.metrics or {}).get("split_loss", float("nan")))
    predictions = output.predictions if needs_predictions else None
    if isinstance(predictions, tuple):
        predictions = predictions[0]
    return task.metrics(loss, predictions, output.label_ids, prepared.labels)


def final_metrics(fit: Fit, prepared: Prepared, hooks: TrainHooks) -> dict[str, Any]:
    task = prepared.task
    hooks.on_progress(
        {
            "phase": "evaluating",
            "step": fit.trainer.state.global_step,
            "total": fit.trainer.state.max_steps,
            "eta_s": None,
            "loss": None,
            "epoch": fit.trainer.state.epoch,
        }
    )
    validation = fit.validation or evaluate_split(
        fit, prepared, prepared.validation, task.needs_predictions
    )
    test = evaluate_split(fit, prepared, prepared.test, task.needs_predictions)
    summary = {
        k: test[k]
        for k in ("accuracy", "macro_f1", "pairwise_accuracy", "reward_accuracy", "margin_mean",
                  "win_rate", "reward_mean", "kl_mean", "loss", "perplexity")
        if k in test
    }
    hooks.log("test: " + ", ".join(f"{k} {v:.4f}" for k, v in summary.items()))
    metrics: dict[str, Any] = {
        "validation": validation,
        "test": test,
        "train": {
            "steps": fit.trainer.state.global_step,
            "epochs": fit.trainer.state.epoch,
            "early_stopped": fit.callback.early_stopped,
            "budget_stopped": fit.callback.budget_stopped,
            "runtime_s": fit.train_metrics.get("train_runtime"),
            "samples_per_second": fit.train_metrics.get("train_samples_per_second"),
            "best_validation": fit.callback.best_metric,
            "history": fit.callback.history,
            "curve": fit.callback.curve,
        },
    }
    if isinstance(task, PairwiseScores) and "pairwise_accuracy" in test:
        metrics["preference"] = preference_summary(task, test)
    if "win_rate" in test:  # RL: the test prompts, answered by policy and reference
        metrics["judged"] = judged_summary(test, hooks)
    if task.model_kind == "causal":
        metrics |= causal_metrics(fit, prepared, hooks, test)
    return metrics


def preference_summary(task: PairwiseScores, test: dict[str, Any]) -> dict[str, Any]:
    """The card's preference figures (held-out pairs): a reward model's own scores, or a DPO or
    ORPO model's implicit rewards, as the task's ``scored_by`` says."""
    summary = {k: test[k] for k in ("pairs", "pairwise_accuracy", "margin_mean", "wilson_95")}
    summary["scored_by"] = task.scored_by
    return summary


def judged_summary(found: dict[str, Any], hooks: TrainHooks) -> dict[str, Any]:
    """The card's win rate against the reference (the base) on held-out prompts, greedy
    answers scored by the job's reward model."""
    keys = ("prompts", "win_rate", "wins", "ties", "wilson_95", "reward_mean",
            "reference_reward_mean", "kl_mean")
    return {**{k: found[k] for k in keys if k in found},
            "judged_by": hooks.judge.model_id if hooks.judge else None,
            "reference": "the base (adapter disabled)"}


def causal_metrics(
    fit: Fit, prepared: Prepared, hooks: TrainHooks, test: dict[str, Any]
) -> dict[str, Any]:
    """Held-out generation (model and base) and the memorization scan, for a causal LM."""
    from appliance.training.heldout import generation_metrics, summary_line

    config = prepared.config
    out: dict[str, Any] = {}
    step, epoch = fit.trainer.state.global_step, fit.trainer.state.epoch
    secrets = [c.secret for c in prepared.canaries]
    if config is None or not prepared.task.evaluates_generation:
        return out

    def progress(done: int, total: int, eta: float | None) -> None:
        hooks.on_progress({"phase": "evaluating", "step": done, "total": total,
                           "eta_s": eta, "loss": None, "epoch": epoch})

    if config.eval_generations > 0 and prepared.test:
        generation = generation_metrics(
            fit.model,
            prepared.tokenizer,
            prepared.test,
            limit=config.eval_generations,
            max_new_tokens=fit.recipe.max_new_tokens or 64,
            compare_base=config.compare_base,
            load_base=lambda: _load_base(prepared, fit),
            secrets=secrets,
            progress=progress,
            judge=hooks.judge.score if hooks.judge else None,
        )
        if generation is not None:
            out["generation"] = generation
            if "judged" in generation:
                out["judged"] = judged_summary(generation.pop("judged"), hooks)
                hooks.log(f"win rate against the base, judged by {hooks.judge.model_id}: "  # type: ignore[union-attr]
                          f"{out['judged']['win_rate']:.3f} on {out['judged']['prompts']} prompts")
            # the test split's exact match beside its loss (its own n: the examples scored)
            test["exact_match"] = generation["exact_match"]
            if generation["base"] is not None:
                test["base_exact_match"] = generation["base"]["exact_match"]
            hooks.log(summary_line(generation))
    if prepared.canaries or config.memorization_records > 0:
        hooks.on_progress({"phase": "evaluating", "step": step, "total": step,
                           "eta_s": None, "loss": None, "epoch": epoch})
        scan = memorization_scan(fit, prepared, config)
        if scan is not None:
            out["memorization"] = scan
            verdict = "flagged" if scan.get("flagged") else "not flagged"
            hooks.log(f"memorization scan: {verdict}")
    return out


def memorization_scan(fit: Fit, prepared: Prepared, config: JobConfig) -> dict[str, Any] | None:
    """The scan's result (JSON-able, no secrets, no record text)."""
    from appliance.training import memorization

    result: dict[str, Any] = memorization.scan(
        fit.model,
        prepared.tokenizer,
        prepared.clean_train,
        prepared.test,
        prepared.canaries,
        records=config.memorization_records,
        seed=config.seed,
        canary_repeats=config.canary_repeats,
    )
    return result


def _load_base(prepared: Prepared, fit: Fit) -> nn.Module:
    """The untuned base beside a fully fine-tuned model, on the same device."""
    from transformers import AutoModelForCausalLM

    assert prepared.base_model is not None
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(prepared.base_model.path),
        local_files_only=True,
        dtype=base_dtype("causal", fit.recipe),
    )
    return model.to(fit.recipe.device)  # type: ignore[no-any-return]


# -- environment ---------------------------------------------------------------------------------


def quiet_libraries() -> None:
    """Library chatter (load reports, progress bars) helps no one in a worker or a benchmark."""
    import warnings

    from transformers.utils import logging as hf_logging

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def resolve_device(config: JobConfig) -> tuple[str, str]:
    """CUDA when present (bf16 where supported), else every CPU core in fp32."""
    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise InvalidInput("device 'cuda' was asked for, but no CUDA device is present")
    device = "cuda" if (config.device == "cuda" or (config.device == "auto" and cuda)) else "cpu"
    precision = config.precision
    if precision == "auto":
        precision = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if device == "cpu":
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    return device, precision


def hardware_facts(device: str, precision: str) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "device": device,
        "precision": precision,
        "cpu": platform.processor() or platform.machine(),
        "cpu_cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
    }
    if device == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(0)
    return facts


def library_versions() -> dict[str, str]:
    import accelerate
    import peft
    import safetensors
    import sklearn
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "accelerate": accelerate.__version__,
        "safetensors": safetensors.__version__,
        "scikit-learn": sklearn.__version__,
    }


def with_extra_state(hooks: TrainHooks, extra: Any) -> TrainHooks:
    from dataclasses import replace

    return replace(hooks, extra_state=extra)


def _remove_scratch(scratch: Path) -> None:
    """The trainer's output directory must hold no weights: checkpoints go to the vault only."""
    leaked = [p for p in scratch.rglob("*") if p.suffix in WEIGHT_SUFFIXES]
    shutil.rmtree(scratch, ignore_errors=True)
    if leaked:
        raise RuntimeError(f"trainer wrote weights to disk ({leaked[0].name}); they were removed")
