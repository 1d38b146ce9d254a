"""Default recipes: the hyperparameters a job gets when it names none.

Measured on a synthetic 50-intent set shaped like the public intent benchmarks (about ten thousand
short messages, held-out wordings for test) with the bundled MiniLM on 2 CPU cores; see
docs/security-training.md for the figures. What mattered, in order:

1. full fine-tuning, not LoRA, for a small encoder: LoRA at r=8 learns 77-way intents slowly;
2. a learning rate far above the BERT folklore (3e-4 for a 22M-parameter model), with warmup,
   and a ten times larger one for the new head;
3. several epochs within a time budget, the learning rate decaying to zero by whichever of the
   steps or the time ends first, and the best validation epoch kept (early stopping);
4. mean pooling for a sentence-transformers base (it was trained that way), not the CLS token;
5. a frozen word-embedding matrix: half of MiniLM's weights, and most of the optimizer's time,
   for no accuracy;
6. dynamic padding to a length taken from the data, with length-grouped batches.

Every choice is recorded, with the reason, in the job's recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from appliance.training.config import JobConfig

#: Training time of a CPU job that names neither epochs nor a budget.
CPU_TIME_BUDGET_S = 390.0
#: A base at most this large is fully fine-tuned by default; larger ones get LoRA.
FULL_FINETUNE_MAX_PARAMS = 150_000_000


@dataclass(frozen=True)
class DataStats:
    n_train: int
    n_validation: int
    n_labels: int
    length_p50: int
    length_p99: int
    length_max: int


@dataclass(frozen=True)
class BaseFacts:
    name: str
    model_type: str
    n_params: int
    max_positions: int


@dataclass(frozen=True)
class Recipe:
    """The hyperparameters a fit actually ran with."""

    method: str
    learning_rate: float
    head_learning_rate: float | None
    batch_size: int
    gradient_accumulation_steps: int
    epochs: float
    max_length: int
    warmup_ratio: float
    weight_decay: float
    lora: dict[str, Any] | None
    pooling: str | None
    freeze_embeddings: bool
    early_stopping_patience: int
    group_by_length: bool
    device: str
    precision: str
    seed: int
    time_budget_s: float | None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls(**data)

    def with_overrides(self, **changes: Any) -> Recipe:
        return replace(self, **changes)


def choose_recipe(
    config: JobConfig,
    model_kind: str,
    base: BaseFacts,
    stats: DataStats,
    device: str,
    precision: str,
    lora_targets: list[str] | str,
    pooling: str | None,
) -> Recipe:
    """Fill every hyperparameter the job left open; epochs may still be planned later."""
    notes: list[str] = []
    small = base.n_params <= FULL_FINETUNE_MAX_PARAMS
    method = config.method
    if method == "auto":
        method = "full" if small else "lora"
        notes.append(f"method {method}: base has {base.n_params / 1e6:.0f}M parameters")
    lora = None
    if method == "lora":
        r = config.lora_r or 16
        lora = {
            "r": r,
            "alpha": config.lora_alpha or 2.0 * r,
            "dropout": config.lora_dropout if config.lora_dropout is not None else 0.05,
            "target_modules": config.lora_target_modules or lora_targets,
        }
    encoder = model_kind == "encoder"
    if config.learning_rate is not None:
        lr = config.learning_rate
    elif method == "lora":
        lr = 1e-3 if encoder else 2e-4
    elif encoder:
        # small encoders take (and need) large steps; a BERT-base-sized one the usual 5e-5
        lr = 3e-4 if base.n_params <= 40_000_000 else 5e-5
    else:
        lr = 5e-5
    head_lr = head_learning_rate(lr) if encoder else None
    batch = config.batch_size or (_batch_for(stats.n_train) if encoder else 8)
    limit = base.max_positions if base.max_positions > 0 else 512
    cap = 256 if encoder else 1024
    if config.max_length is not None:
        max_length = min(config.max_length, limit)
    else:
        max_length = max(16, min(_round_up(stats.length_p99, 8), cap, limit))
        notes.append(f"max_length {max_length}: 99th percentile of {stats.length_p99} tokens")
    patience = config.early_stopping_patience or 2
    epochs = config.epochs if config.epochs is not None else _max_epochs(stats.n_train, encoder)
    budget = config.time_budget_s
    if budget is None and config.epochs is None and device == "cpu":
        budget = CPU_TIME_BUDGET_S
    if budget is not None:
        notes.append(
            f"epochs: up to {epochs:g}, within {budget:.0f}s of training; the learning "
            "rate decays to zero by whichever ends first"
        )
    return Recipe(
        method=method,
        learning_rate=lr,
        head_learning_rate=head_lr,
        batch_size=batch,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        epochs=float(epochs),
        max_length=max_length,
        warmup_ratio=config.warmup_ratio if config.warmup_ratio is not None else 0.1,
        weight_decay=config.weight_decay if config.weight_decay is not None else 0.01,
        lora=lora,
        pooling=pooling,
        freeze_embeddings=encoder and method == "full",
        early_stopping_patience=patience,
        group_by_length=config.group_by_length,
        device=device,
        precision=precision,
        seed=config.seed,
        time_budget_s=budget,
        notes=notes,
    )


def head_learning_rate(lr: float) -> float:
    """A new head starts from nothing: it gets ten times the body's rate, within reason."""
    return round(min(10 * lr, 5e-3), 12)


def _batch_for(n_train: int) -> int:
    return 16 if n_train < 2000 else 32


def _max_epochs(n_train: int, encoder: bool) -> int:
    """Enough passes for roughly 1,500 optimizer steps on small data, never fewer than 3."""
    if not encoder:
        return 3
    return max(3, min(20, round(40_000 / max(n_train, 1))))


def _round_up(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple
