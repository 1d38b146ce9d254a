"""transformers' ``Trainer``, taught to checkpoint into memory and to stop when told.

:class:`ApplianceTrainer` adds five things to the stock trainer:

- an optimizer with its own learning rate for a freshly initialised classification head;
- for causal LMs, a loss that runs the LM head only where a label is learned
  (``logits_to_keep``): SFT learns the answer's few tokens, and the head's 49k-way projection
  of every prompt token was a quarter of each step's compute on SmolLM2;
- a task's own loss where it has one (``Task.loss_function``: the Bradley–Terry loss of reward
  models, DPO's), computed on the task's batches inside this same loop;
- a length-grouped sampler that is reproducible per epoch, so a resumed run skips exactly the
  batches it already saw;
- resume from a checkpoint held in memory. The stock trainer only resumes from a directory, so
  the hooks it calls with that directory (``_init_training_state``,
  ``_load_optimizer_and_scheduler``, ``_load_rng_state``, ``_load_scaler``) are overridden to
  read the in-memory state instead. They are private to transformers 5.x; the resume test pins
  this behaviour.

:class:`JobCallback` reports progress and the loss curve, polls for cancellation and revoked
datasets and takes periodic checkpoints. Early stopping is transformers' own
:class:`~transformers.EarlyStoppingCallback`; :class:`BestWeightsCallback` beside it keeps the best
weights seen on validation in memory (the stock way, ``load_best_model_at_end``, writes them to
disk).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import Sampler
from transformers import (
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.trainer_pt_utils import get_length_grouped_indices

from appliance.training import checkpoint


def _ignore_shadowing_datasets() -> None:
    """transformers takes any importable ``datasets`` for Hugging Face's library. A plain
    directory of that name on ``sys.path`` (a namespace package: ``./datasets`` in the working
    directory, or ``tests/datasets``) would then break the trainer at its first batch. When the
    name resolves to no real package, tell the trainer the library is absent."""
    import importlib.util

    import transformers.trainer

    spec = importlib.util.find_spec("datasets")
    if spec is not None and spec.origin in (None, "namespace"):
        transformers.trainer.is_datasets_available = lambda: False  # type: ignore[attr-defined]


_ignore_shadowing_datasets()

#: Stands in for the checkpoint directory the stock trainer expects; never a real path.
MEMORY_CHECKPOINT = "<memory>"


class BudgetClock:
    """Training time spent so far, carried across a resume (``offset``)."""

    def __init__(self, budget_s: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.offset = 0.0
        self._started: float | None = None

    def start(self) -> None:
        self._started = self.clock()

    def elapsed(self) -> float:
        return self.offset + (0.0 if self._started is None else self.clock() - self._started)

    def spent(self) -> bool:
        return self.budget_s is not None and self.elapsed() >= self.budget_s


def budget_schedule(
    warmup_steps: int, max_steps: int, clock: BudgetClock
) -> Callable[[int], float]:
    """Linear warmup, then linear decay to zero by whichever ends first: the steps, or the time
    budget. On a slow or busy machine the learning rate still reaches zero when the time is up,
    instead of being cut off half-way down a schedule planned for more steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        by_steps = (step - warmup_steps) / max(1, max_steps - warmup_steps)
        by_time = clock.elapsed() / clock.budget_s if clock.budget_s else 0.0
        return max(0.0, 1.0 - max(by_steps, by_time))

    return factor


class GroupedLengthSampler(Sampler[int]):
    """Batches of similar length, in shuffled order, drawn from ``seed + epoch``.

    The data loader cuts this stream of indices into batches of ``batch_size`` again, so every
    batch but the last must stay whole: the short remainder batch is always yielded last (a
    short batch shuffled into the middle would shift every later boundary, and each batch would
    then straddle two length groups, padding to the longer).
    """

    #: Examples are sorted by length within mega-batches of this many batches. The stock grouping
    #: also caps them at a quarter of the data, to keep some randomness in which examples meet;
    #: shuffling the batches (below) keeps that, so larger groups pad less.
    MEGA_BATCHES = 50

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = get_length_grouped_indices(
            self.lengths, self.batch_size, self.MEGA_BATCHES, generator=generator
        )
        whole = len(order) // self.batch_size
        batches = [order[i * self.batch_size : (i + 1) * self.batch_size] for i in range(whole)]
        # the stock grouping walks each mega-batch from long to short; shuffling the batches keeps
        # the padding saving without correlating the gradient noise with length
        shuffled = torch.randperm(len(batches), generator=generator).tolist()
        return iter([i for b in shuffled for i in batches[b]] + order[whole * self.batch_size :])


class ApplianceTrainer(Trainer):
    def __init__(
        self,
        *args: Any,
        head_learning_rate: float | None = None,
        group_lengths: list[int] | None = None,
        resume_state: dict[str, Any] | None = None,
        budget: BudgetClock | None = None,
        warmup_steps: int | None = None,
        answer_logits_only: bool = False,
        task_loss: Callable[[nn.Module, dict[str, Any]], tuple[torch.Tensor, Any]]
        | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.answer_logits_only = answer_logits_only
        self.task_loss = task_loss
        if answer_logits_only or task_loss is not None:
            self.loss_is_scaled_for_ga = False  # a per-batch mean: the trainer divides it
        #: Scalars a task's loss reported for the steps since the last log line (RL's reward).
        self._task_logs: list[dict[str, float]] = []
        self.head_learning_rate = head_learning_rate
        self.group_lengths = group_lengths
        self.resume_state = resume_state
        self.budget = budget
        self.warmup_steps = warmup_steps

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> Any:
        if self.lr_scheduler is None and self.budget is not None and self.budget.budget_s:
            optimizer = optimizer if optimizer is not None else self.optimizer
            assert optimizer is not None
            warmup = (
                self.warmup_steps
                if self.warmup_steps is not None
                else self.args.get_warmup_steps(num_training_steps)
            )
            schedule = budget_schedule(warmup, num_training_steps, self.budget)
            # a plain function, not the closure's object: LambdaLR then keeps it out of its
            # state_dict, which must stay loadable with weights_only
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lambda step: schedule(step)
            )
            self._created_lr_scheduler = True
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)

    def compute_loss(
        self,
        model: nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        if self.task_loss is not None:
            loss, outputs = self.task_loss(model, inputs)  # a task's own (reward, dpo, rloo)
            if isinstance(outputs, dict) and "log" in outputs:
                self._task_logs.append(outputs.pop("log"))
        elif self.answer_logits_only:
            loss, outputs = answer_loss(model, inputs)
        else:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """A training log line also carries the means of what the task's loss reported."""
        if "loss" in logs and self._task_logs:
            for key in self._task_logs[0]:
                values = [entry[key] for entry in self._task_logs if key in entry]
                logs[key] = round(sum(values) / len(values), 6)
            self._task_logs.clear()
        super().log(logs, start_time)

    # -- optimizer and sampler ------------------------------------------------------------------

    def create_optimizer(self, model: nn.Module | None = None) -> torch.optim.Optimizer:
        if self.optimizer is None and self.head_learning_rate is not None:
            model = model if model is not None else self.model
            assert model is not None
            decay = set(self.get_decay_parameter_names(model))
            groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
            for name, param in model.named_parameters():
                if param.requires_grad:
                    is_head = ".head." in f".{name}."
                    groups.setdefault((is_head, name in decay), []).append(param)
            self.optimizer = torch.optim.AdamW(
                [
                    {
                        "params": params,
                        "lr": self.head_learning_rate if is_head else self.args.learning_rate,
                        "weight_decay": self.args.weight_decay if decays else 0.0,
                    }
                    for (is_head, decays), params in sorted(groups.items())
                ],
                lr=self.args.learning_rate,
                betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon,
                fused=True,  # one kernel per step for all parameters, CPU and CUDA alike
            )
            return self.optimizer
        return super().create_optimizer(model)

    def _get_train_sampler(self, train_dataset: Any = None) -> Sampler[int] | None:
        if self.group_lengths is not None:
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return GroupedLengthSampler(self.group_lengths, batch, self.args.seed)
        return super()._get_train_sampler(train_dataset)

    # -- resume from memory ---------------------------------------------------------------------

    def _inner_training_loop(
        self,
        batch_size: Any = None,
        args: Any = None,
        resume_from_checkpoint: Any = None,
        trial: Any = None,
        ignore_keys_for_eval: Any = None,
    ) -> Any:
        if self.resume_state is not None:
            resume_from_checkpoint = MEMORY_CHECKPOINT
        return super()._inner_training_loop(
            batch_size, args, resume_from_checkpoint, trial, ignore_keys_for_eval
        )

    def _init_training_state(
        self,
        max_steps: int,
        num_update_steps_per_epoch: int,
        num_train_epochs: int,
        resume_from_checkpoint: Any,
        trial: Any,
    ) -> tuple[int, int]:
        if resume_from_checkpoint != MEMORY_CHECKPOINT or self.resume_state is None:
            return super()._init_training_state(  # type: ignore[no-any-return]
                max_steps,
                num_update_steps_per_epoch,
                num_train_epochs,
                resume_from_checkpoint,
                trial,
            )
        super()._init_training_state(
            max_steps, num_update_steps_per_epoch, num_train_epochs, None, trial
        )
        saved = json.loads(self.resume_state["trainer_state"])
        self.state = TrainerState(**saved)
        self.state.init_training_references(self, max_steps, num_train_epochs, trial)
        epochs_trained = self.state.global_step // num_update_steps_per_epoch
        steps_in_epoch = self.state.global_step % num_update_steps_per_epoch
        return epochs_trained, steps_in_epoch * self.args.gradient_accumulation_steps

    def _load_optimizer_and_scheduler(self, checkpoint_dir: Any) -> None:
        if checkpoint_dir != MEMORY_CHECKPOINT:
            return super()._load_optimizer_and_scheduler(checkpoint_dir)  # type: ignore[no-any-return]
        assert self.resume_state is not None and self.optimizer is not None
        self.optimizer.load_state_dict(self.resume_state["optimizer"])
        self.lr_scheduler.load_state_dict(self.resume_state["scheduler"])  # type: ignore[union-attr]

    def _load_scaler(self, checkpoint_dir: Any) -> None:
        if checkpoint_dir != MEMORY_CHECKPOINT:
            super()._load_scaler(checkpoint_dir)

    def _load_rng_state(self, checkpoint_dir: Any) -> None:
        if checkpoint_dir != MEMORY_CHECKPOINT:
            return super()._load_rng_state(checkpoint_dir)  # type: ignore[no-any-return]
        assert self.resume_state is not None
        checkpoint.restore_rng(self.resume_state["rng"])

    def _module(self) -> nn.Module:
        assert self.model is not None
        return self.model

    def memory_checkpoint(self, extra: dict[str, Any]) -> dict[str, Any]:
        """The state :meth:`_init_training_state` and friends restore, plus ``extra``."""
        assert self.optimizer is not None and self.lr_scheduler is not None
        return {
            "model": trainable_weights(self._module()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.lr_scheduler.state_dict(),
            "trainer_state": json.dumps(dataclasses.asdict(self.state)),
            "rng": checkpoint.capture_rng(),
            **extra,
        }


def answer_loss(model: nn.Module, inputs: dict[str, Any]) -> tuple[torch.Tensor, Any]:
    """The causal LM loss (mean cross-entropy over learned tokens, as the model computes it)
    with logits only at the positions that predict a learned token in some row of the batch."""
    labels = inputs["labels"]
    targets = labels[:, 1:]  # position t predicts token t + 1
    keep = (targets != -100).any(dim=0).nonzero().squeeze(-1)
    if keep.numel() == 0:
        keep = torch.tensor([targets.size(1) - 1], device=labels.device)
    features = {k: v for k, v in inputs.items() if k != "labels"}
    outputs = model(**features, logits_to_keep=keep)
    logits = outputs.logits
    loss = nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)),
        targets[:, keep].reshape(-1),
        ignore_index=-100,
        reduction="sum",
    ) / (targets != -100).sum().clamp(min=1)
    return loss, outputs


def supports_logits_to_keep(model: nn.Module) -> bool:
    """Whether the (PEFT-wrapped) causal LM takes ``logits_to_keep`` (transformers' LMs do)."""
    import inspect

    getter: Any = getattr(model, "get_base_model", None)
    inner = getter() if callable(getter) else model
    try:
        return "logits_to_keep" in inspect.signature(inner.forward).parameters
    except (TypeError, ValueError):
        return False


def trainable_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the parameters being trained (the rest is the base, rebuilt on resume)."""
    return {
        n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad
    }


def load_trainable_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in weights]
    if missing or any(n not in params for n in weights):
        raise ValueError("checkpoint does not match the model it is resumed into")
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device))


@dataclass
class TrainHooks:
    """How a running fit talks to the outside (the job layer, or a test)."""

    #: The job's reward model (``reward_model``), when it names one: RL learns from it, and
    #: generative tasks' held-out answers are judged by it against the reference's.
    judge: Judge | None = None

    on_progress: Callable[[dict[str, Any]], None] = lambda progress: None
    #: The loss curve so far (see :attr:`JobCallback.curve`), whenever it grew.
    on_curve: Callable[[list[dict[str, Any]]], None] = lambda curve: None
    log: Callable[[str], None] = lambda line: None
    #: Polled every step: a reason to stop ("cancelled", "dataset ... REVOKED"), or None.
    should_stop: Callable[[], str | None] = lambda: None
    #: Receives checkpoint bytes; None disables checkpointing.
    save_checkpoint: Callable[[bytes], None] | None = None
    checkpoint_interval_s: float = 120.0
    checkpoint_every_steps: int | None = None
    #: Extra state stored in each checkpoint (the search's finished trials, say).
    extra_state: Callable[[], dict[str, Any]] = lambda: {}
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Judge:
    """A reward model in memory for a running job, decrypted through the gate by the job layer
    (:func:`appliance.training.models.reward_judge`): ``score`` maps (prompt turns, answer)
    items to scores, higher better."""

    model_id: str
    score: Callable[[list[tuple[list[dict[str, str]], str]]], list[float]]


CANCELLED = "cancelled"
#: The worker was told to exit (SIGTERM): keep the progress, resume on the next start.
INTERRUPTED = "interrupted"
#: Stop reasons that keep a checkpoint; any other (a revoked dataset) discards the progress.
SAVE_ON_STOP = (CANCELLED, INTERRUPTED)


def _better(value: float, best: float | None, greater_is_better: bool) -> bool:
    """Strictly better, as transformers' early stopping compares (threshold 0)."""
    return best is None or (value > best if greater_is_better else value < best)


@dataclass
class BestWeightsCallback(TrainerCallback):
    """Keeps a CPU copy of the trainable weights with the best validation score so far.

    transformers' own way to keep the best model (``load_best_model_at_end``) saves a checkpoint
    directory per evaluation and reloads it at the end: plaintext weights on disk, which no part
    of the appliance may write. This keeps them in memory instead; :func:`engine.fit_model`
    restores them after the final scoring if the last weights were worse. It runs beside
    transformers' :class:`~transformers.EarlyStoppingCallback`, which decides when to stop.
    """

    metric: str
    greater_is_better: bool
    trainer: ApplianceTrainer | None = None
    best_metric: float | None = None
    best_weights: dict[str, torch.Tensor] | None = None

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metrics or f"eval_{self.metric}" not in metrics or self.trainer is None:
            return
        value = float(metrics[f"eval_{self.metric}"])
        if _better(value, self.best_metric, self.greater_is_better):
            self.best_metric = value
            self.best_weights = trainable_weights(self.trainer._module())


def early_stopping(patience: int) -> EarlyStoppingCallback:
    return EarlyStoppingCallback(early_stopping_patience=patience)


@dataclass
class JobCallback(TrainerCallback):
    """Progress, the loss curve, stop requests, periodic checkpoints.

    Listed after :class:`BestWeightsCallback` and the :class:`EarlyStoppingCallback` (``best``
    and ``early``), so that a checkpoint taken after an evaluation holds their updated state.
    """

    hooks: TrainHooks
    metric: str
    greater_is_better: bool
    patience: int
    phase: str = "training"
    budget: BudgetClock | None = None
    trainer: ApplianceTrainer | None = None
    best: BestWeightsCallback | None = None
    early: EarlyStoppingCallback | None = None
    stop_reason: str | None = None
    early_stopped: bool = False
    budget_stopped: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Training loss at every logging step and validation loss at every evaluation:
    #: ``{"step", "epoch", "loss"}`` or ``{"step", "epoch", "eval_loss"}``.
    curve: list[dict[str, Any]] = field(default_factory=list)
    _last_loss: float | None = None
    #: RL's mean reward of the last logged steps (its loss is 0 in value: the reward is news).
    _last_reward: float | None = None
    _last_report: float = -math.inf
    _reported_points: int = 0
    _last_checkpoint: float = 0.0
    _started: float = 0.0
    _start_step: int = 0

    def __post_init__(self) -> None:
        if self.best is None:
            self.best = BestWeightsCallback(self.metric, self.greater_is_better)
        if self.early is None:
            self.early = early_stopping(self.patience)

    @property
    def callbacks(self) -> list[TrainerCallback]:
        """In the order the trainer must call them."""
        assert self.best is not None and self.early is not None
        return [self.best, self.early, self]

    @property
    def best_metric(self) -> float | None:
        assert self.best is not None
        return self.best.best_metric

    @property
    def best_weights(self) -> dict[str, torch.Tensor] | None:
        assert self.best is not None
        return self.best.best_weights

    def attach(self, trainer: ApplianceTrainer | None) -> None:
        """Point (or, with None, stop pointing) the callbacks at the trainer's model."""
        assert self.best is not None
        self.trainer = self.best.trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        assert self.early is not None
        return {
            "best_metric": self.best_metric,
            "best_weights": self.best_weights,
            "bad_evals": self.early.early_stopping_patience_counter,
            "history": json.dumps(self.history),
            "curve": json.dumps(self.curve),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert self.best is not None and self.early is not None
        self.best.best_metric = state["best_metric"]
        self.best.best_weights = state["best_weights"]
        self.early.early_stopping_patience_counter = int(state["bad_evals"])
        self.history = json.loads(state["history"])
        self.curve = json.loads(state.get("curve", "[]"))  # older checkpoints kept no curve

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._started = self._last_checkpoint = self.hooks.clock()
        self._start_step = state.global_step
        # a resumed run logs again from its checkpoint's step: drop what came after it
        self.curve = [p for p in self.curve if p["step"] <= state.global_step]
        if self.budget is not None:
            self.budget.start()

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.report_curve()  # the last logging step comes after the last progress report

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs:
            return
        epoch = round(float(state.epoch or 0.0), 3)
        for key in ("loss", "eval_loss", "reward"):
            if key in logs and math.isfinite(float(logs[key])):
                self.curve.append({"step": state.global_step, "epoch": epoch,
                                   key: float(logs[key])})
        if "loss" in logs:
            self._last_loss = float(logs["loss"])
        if "reward" in logs:
            self._last_reward = float(logs["reward"])

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        now = self.hooks.clock()
        if now - self._last_report >= 1.0 or state.global_step == state.max_steps:
            self._report(state, now)
        reason = self.hooks.should_stop()
        if reason is not None:
            self.stop_reason = reason
            control.should_training_stop = True
            if reason in SAVE_ON_STOP:
                self.save()  # a cancel keeps its progress; a revoked dataset's does not
            return
        if self.budget is not None and self.budget.spent() and state.global_step < state.max_steps:
            self.budget_stopped = True
            control.should_training_stop = True
            self.hooks.log(
                f"time budget of {self.budget.budget_s:.0f}s reached at epoch {state.epoch:.2f}"
            )
            return
        at_epoch_end = state.epoch is not None and float(state.epoch).is_integer()
        every = self.hooks.checkpoint_every_steps
        due = now - self._last_checkpoint >= self.hooks.checkpoint_interval_s or (
            every is not None and state.global_step % every == 0
        )
        if due and not at_epoch_end and state.global_step < state.max_steps:
            self.save()  # at an epoch's end the evaluation comes first: see on_evaluate

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        # The last weights are scored once, after training (see engine.fit_model), so an
        # evaluation here would only repeat it; and a stop must not wait for one.
        if (
            self.stop_reason is not None
            or self.budget_stopped
            or control.should_training_stop
            or state.global_step >= state.max_steps
        ):
            control.should_evaluate = False

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metrics or f"eval_{self.metric}" not in metrics or self.trainer is None:
            return
        value = float(metrics[f"eval_{self.metric}"])
        self.history.append(
            {
                "step": state.global_step,
                "epoch": state.epoch,
                self.metric: value,
                "loss": self._last_loss,
            }
        )
        self.hooks.log(f"epoch {state.epoch:.2f}: validation {self.metric} {value:.4f}")
        assert self.early is not None
        if (
            control.should_training_stop
            and self.early.early_stopping_patience_counter >= self.patience
            and state.global_step < state.max_steps
        ):
            self.early_stopped = True
            self.hooks.log(
                f"early stop: no better validation {self.metric} in {self.patience} evaluations"
            )
        if (
            self.hooks.save_checkpoint is not None
            and state.global_step < state.max_steps
            and not control.should_training_stop
        ):
            self.save()

    def consider_final(self, value: float, step: int, epoch: float) -> bool:
        """Score the weights training ended with; True when they are the best seen."""
        self.history.append(
            {
                "step": step,
                "epoch": epoch,
                self.metric: value,
                "loss": self._last_loss,
                "final": True,
            }
        )
        assert self.best is not None
        best = self.best.best_metric
        if best is None or (value >= best if self.greater_is_better else value <= best):
            self.best.best_metric = value
            return True
        return False

    def save(self) -> None:
        if self.hooks.save_checkpoint is None or self.trainer is None:
            return
        state = self.trainer.memory_checkpoint(
            {"tracker": self.state_dict(), **self.hooks.extra_state()}
        )
        self.hooks.save_checkpoint(checkpoint.to_bytes(state))
        self._last_checkpoint = self.hooks.clock()

    def _report(self, state: TrainerState, now: float) -> None:
        done = state.global_step - self._start_step
        elapsed = now - self._started
        remaining = state.max_steps - state.global_step
        eta = elapsed / done * remaining if done > 0 else None
        if eta is not None and self.budget is not None and self.budget.budget_s:
            eta = min(eta, max(0.0, self.budget.budget_s - self.budget.elapsed()))
        self.hooks.on_progress(
            {
                "phase": self.phase,
                "step": state.global_step,
                "total": state.max_steps,
                "epoch": round(float(state.epoch or 0.0), 3),
                "loss": self._last_loss,
                "eta_s": round(eta, 1) if eta is not None else None,
                **({"reward": self._last_reward} if self._last_reward is not None else {}),
            }
        )
        self._last_report = now
        self.report_curve()

    def report_curve(self) -> None:
        """Hand the curve to the job layer when it grew (at most as often as progress)."""
        if len(self.curve) != self._reported_points:
            self._reported_points = len(self.curve)
            self.hooks.on_curve(list(self.curve))
