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

Causal LMs (SFT) get their own branch, :func:`_causal_choices`: LoRA on every linear layer,
whatever the size, with its rank, scaling, dropout and learning rate; a longer time budget
(generation costs more per example than classification); epochs by data size; gradient
checkpointing for large bases; on CUDA, bf16, and 4-bit QLoRA when the base would not fit
(:func:`choose_quantization`). Measured on a synthetic 30-intent set (10 queries each) framed as
query -> intent name with SmolLM2-135M-Instruct on 2 CPU cores; see the notes of issue 14.

Preference tasks adjust both branches (the reasons are beside their constants): a reward model
is an encoder classifier with one output and gets the encoder's recipe with a smaller learning
rate and few epochs; DPO gets the causal one with LoRA always (its reference is the base with the
adapter disabled), a smaller learning rate, smaller batches of pairs and fewer steps.

Every choice is recorded, with the reason, in the job's recipe.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig

#: Training time of a CPU job that names neither epochs nor a budget.
CPU_TIME_BUDGET_S = 390.0
#: The same for a causal LM: it leaves room, within 20 minutes, for the held-out generation
#: (model and base) and the memorization scan that follow training.
CAUSAL_CPU_TIME_BUDGET_S = 720.0
#: An encoder at most this large is fully fine-tuned by default; larger ones get LoRA.
FULL_FINETUNE_MAX_PARAMS = 150_000_000
#: Causal LMs above this size train with gradient checkpointing (activations recomputed).
CHECKPOINTING_MIN_PARAMS = 1_000_000_000
#: LoRA defaults for causal LMs (see _causal_choices for the reasons).
CAUSAL_LORA_R = 16
CAUSAL_LORA_DROPOUT = 0.05
CAUSAL_LORA_LR = 2e-3
CAUSAL_BATCH = 16
#: Optimizer steps the epoch count aims at on small data (the time budget may end it sooner).
CAUSAL_TARGET_STEPS = 300
#: Generation limit in evaluation: the longest answers (99th percentile) plus this margin.
NEW_TOKENS_MARGIN = 8
MAX_NEW_TOKENS = 512
#: Reward models (Bradley-Terry on pairs, an encoder with one output). A third of the
#: classifier's rate: a pair's loss is one noisy comparison, not a label (InstructGPT's labelers
#: agreed with each other on about 73% of comparisons, Ouyang et al., 2022); and few epochs
#: (InstructGPT trains its reward models for one). The best validation pairwise accuracy is
#: kept. Not tuned beyond tools/pref_check.py.
REWARD_LR = 1e-4
REWARD_MAX_EPOCHS = 4
#: DPO (causal LM, LoRA, reference = the base). A quarter of SFT's adapter rate: the implicit
#: reward grows with the distance from the reference, and large steps mostly push both answers'
#: likelihoods down; batches of 8 pairs (16 sequences, plus the reference's forward pass);
#: about 150 steps within 10 minutes on CPU, leaving room for the held-out generation and the
#: memorization scan. Checked on tiny models only; see the notes of issue 15.
DPO_LORA_LR = 5e-4
DPO_BATCH = 8
DPO_TARGET_STEPS = 150
DPO_MAX_EPOCHS = 5
DPO_CPU_TIME_BUDGET_S = 600.0
#: RL from a reward model (task rloo; LoRA, reference = the base). Batches of 4 prompts, each
#: answered 4 times (16 sampled answers a step, generation most of its time): about 50 steps
#: within 10 minutes on CPU. A tenth of SFT's adapter rate: REINFORCE's gradient sums over the
#: answer's tokens and its reward signal is noisy. Checked on tiny models and one SmolLM2 run
#: (the notes of issue 15); not tuned.
RL_LORA_LR = 2e-4
RL_BATCH = 4
RL_TARGET_STEPS = 60
RL_MAX_EPOCHS = 4
#: A bf16 base fits the GPU when weights x this factor, plus the reserve, fit its memory:
#: LoRA's gradients, optimizer states and activations for short sequences, measured loosely.
BF16_OVERHEAD = 1.5
GPU_RESERVE_BYTES = 2 << 30


@dataclass(frozen=True)
class DataStats:
    n_train: int
    n_validation: int
    n_labels: int
    length_p50: int
    length_p99: int
    length_max: int
    #: 99th percentile of the answers' token counts (causal tasks; 0 otherwise).
    answer_p99: int = 0


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
    #: "4bit" (QLoRA through bitsandbytes, CUDA) or "none".
    quantization: str = "none"
    gradient_checkpointing: bool = False
    #: Generation limit of the held-out evaluation (causal tasks).
    max_new_tokens: int | None = None
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
    gpu_memory: int | None = None,
) -> Recipe:
    """Fill every hyperparameter the job left open; epochs may still be planned later.

    ``gpu_memory`` (bytes, CUDA only) decides whether a causal base needs 4-bit QLoRA."""
    if model_kind == "causal":
        return _causal_recipe(
            config, base, stats, device, precision, lora_targets, gpu_memory
        )
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
    reward = config.task == "reward"
    if config.learning_rate is not None:
        lr = config.learning_rate
    elif method == "lora":
        lr = 1e-3
    elif reward:
        lr = REWARD_LR
        notes.append(f"learning rate {lr:g}: a reward model learns from noisy comparisons")
    else:
        # small encoders take (and need) large steps; a BERT-base-sized one the usual 5e-5
        lr = 3e-4 if base.n_params <= 40_000_000 else 5e-5
    batch = config.batch_size or _batch_for(stats.n_train)
    max_length = _max_length(config, base, stats, 256, notes)
    epochs = config.epochs if config.epochs is not None else _max_epochs(stats.n_train)
    if reward and config.epochs is None:
        epochs = min(epochs, REWARD_MAX_EPOCHS)
        notes.append(
            f"epochs up to {epochs:g}: reward models overfit preference pairs within a few "
            "passes; the best validation pairwise accuracy is kept"
        )
    budget = _budget(config, device, CPU_TIME_BUDGET_S, epochs, notes)
    return Recipe(
        method=method,
        learning_rate=lr,
        head_learning_rate=head_learning_rate(lr),
        batch_size=batch,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        epochs=float(epochs),
        max_length=max_length,
        warmup_ratio=config.warmup_ratio if config.warmup_ratio is not None else 0.1,
        weight_decay=config.weight_decay if config.weight_decay is not None else 0.01,
        lora=lora,
        pooling=pooling,
        freeze_embeddings=method == "full",
        early_stopping_patience=config.early_stopping_patience or 2,
        group_by_length=config.group_by_length,
        device=device,
        precision=precision,
        seed=config.seed,
        time_budget_s=budget,
        notes=notes,
    )


def _causal_recipe(
    config: JobConfig,
    base: BaseFacts,
    stats: DataStats,
    device: str,
    precision: str,
    lora_targets: list[str] | str,
    gpu_memory: int | None,
) -> Recipe:
    """SFT of a causal LM. What each default is and why:

    - LoRA at any size: full fine-tuning costs about three times the optimizer memory and time
      for data this small, and an adapter ships beside the registered base; adapters on *every*
      linear layer (attention and MLP), as QLoRA's authors recommend over the query/value-only
      default of the LoRA paper;
    - r 16, alpha 2r (scale 2), dropout 0.05: the usual values (alpha = 2r keeps the update's
      scale independent of r); not tuned here;
    - learning rate 2e-3: adapters start at zero and the CPU budget allows a few hundred steps,
      fewer on a busy machine. On a 40-intent check (320 training queries, 320 held-out ones in
      another style) 2e-3 reached 0.88 exact match in 80 steps, where 1e-3 needed 160 steps
      (0.78 at 80); the 2e-4 of large-model recipes barely moves the adapters in that time;
    - batch 16, length-grouped; max_length the 99th percentile of rendered chats;
    - epochs by data size, aiming at a few hundred steps, within a CPU time budget, with early
      stopping on validation loss (the best epoch's weights kept): more steps kept helping on
      held-out queries in another style (0.78 -> 0.88 from 80 to 160 steps at 1e-3).
    """
    notes: list[str] = []
    rl = config.task == "rloo"
    # the same recipe: preference tuning of a causal LM, against the base as its reference
    # (ORPO has none)
    dpo = config.task in ("dpo", "kto", "orpo") or rl
    referenced = dpo and config.task != "orpo"
    method = config.method
    if referenced and method == "full":
        raise InvalidInput(
            f"task '{config.task}' trains LoRA adapters: its reference model is the base with the "
            "adapter disabled (method 'full' would need a second copy of the model)"
        )
    if method == "auto":
        method = "lora"
        notes.append(
            f"method lora: a causal LM ({base.n_params / 1e6:.0f}M parameters) adapts well "
            "with low-rank adapters on every linear layer, at a fraction of full "
            "fine-tuning's optimizer memory and time"
            + ("; the reference is the base with the adapter disabled" if referenced else "")
        )
    quantization, qnote = choose_quantization(
        config.quantization, device, method, base.n_params, gpu_memory
    )
    if qnote:
        notes.append(qnote)
    lora = None
    if method == "lora":
        r = config.lora_r or CAUSAL_LORA_R
        targets = config.lora_target_modules or lora_targets or "all-linear"
        lora = {
            "r": r,
            "alpha": config.lora_alpha or 2.0 * r,
            "dropout": config.lora_dropout
            if config.lora_dropout is not None
            else CAUSAL_LORA_DROPOUT,
            "target_modules": targets,
        }
        if config.lora_r is None:
            where = "every linear layer" if targets == "all-linear" else ", ".join(targets)
            notes.append(
                f"lora r {r}, alpha {lora['alpha']:g}, dropout {lora['dropout']:g} on {where}"
            )
    if config.learning_rate is not None:
        lr = config.learning_rate
    elif rl:
        lr = RL_LORA_LR
        notes.append(
            f"learning rate {lr:g}: REINFORCE-style updates from sampled answers are noisy, a "
            "tenth of SFT's adapter rate"
        )
    elif dpo and method == "lora":
        lr = DPO_LORA_LR
        notes.append(
            f"learning rate {lr:g}: "
            + ("ORPO's odds-ratio term moves the policy as DPO's does" if not referenced
               else "DPO moves the policy away from its reference")
            + ", a quarter of SFT's adapter rate"
        )
    elif method == "lora":
        lr = CAUSAL_LORA_LR
        notes.append(
            f"learning rate {lr:g}: adapters start at zero and the budget allows a few "
            "hundred steps"
        )
    else:
        lr = 2e-5 if base.n_params > CHECKPOINTING_MIN_PARAMS else 5e-5
        notes.append(f"learning rate {lr:g}: full fine-tuning of a pretrained LM")
    batch = config.batch_size or (RL_BATCH if rl else DPO_BATCH if dpo else CAUSAL_BATCH)
    max_length = _max_length(config, base, stats, 2048, notes)
    if config.epochs is not None:
        epochs: float = config.epochs
    else:
        steps_per_epoch = max(1, -(-stats.n_train // (batch * config.gradient_accumulation_steps)))
        target, most = (
            (RL_TARGET_STEPS, RL_MAX_EPOCHS) if rl
            else (DPO_TARGET_STEPS, DPO_MAX_EPOCHS) if dpo
            else (CAUSAL_TARGET_STEPS, 10)
        )
        epochs = max(1 if dpo else 2, min(most, round(target / steps_per_epoch)))
        unit = {"dpo": "pairs", "orpo": "pairs", "rloo": "prompts"}.get(config.task, "examples")
        notes.append(
            f"epochs up to {epochs:g}: about {target} steps for "
            f"{stats.n_train} training {unit}; early stopping on validation "
            + ("reward" if rl else "loss")
        )
    budget = _budget(
        config, device, DPO_CPU_TIME_BUDGET_S if dpo else CAUSAL_CPU_TIME_BUDGET_S, epochs, notes
    )
    checkpointing = config.gradient_checkpointing
    if checkpointing is None:
        checkpointing = base.n_params > CHECKPOINTING_MIN_PARAMS
        if checkpointing:
            notes.append(
                f"gradient checkpointing: a {base.n_params / 1e9:.1f}B-parameter base; "
                "activations are recomputed to fit memory"
            )
    max_new_tokens = config.max_new_tokens
    if rl:
        from appliance.training.tasks.rloo import ROLLOUT_TOKENS, SAMPLES

        max_new_tokens = max_new_tokens or ROLLOUT_TOKENS
        notes.append(
            f"each step samples {config.samples_per_prompt or SAMPLES} answers of up to "
            f"{max_new_tokens} tokens per prompt; the reward model {config.reward_model} "
            "scores them"
        )
    if max_new_tokens is None:
        max_new_tokens = min(MAX_NEW_TOKENS, max(16, stats.answer_p99 + NEW_TOKENS_MARGIN))
        notes.append(
            f"evaluation generates up to {max_new_tokens} tokens: 99th percentile of the "
            f"answers ({stats.answer_p99} tokens) plus {NEW_TOKENS_MARGIN}"
        )
    return Recipe(
        method=method,
        learning_rate=lr,
        head_learning_rate=None,
        batch_size=batch,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        epochs=float(epochs),
        max_length=max_length,
        warmup_ratio=config.warmup_ratio if config.warmup_ratio is not None else 0.1,
        weight_decay=config.weight_decay if config.weight_decay is not None else 0.0,
        lora=lora,
        pooling=None,
        freeze_embeddings=False,
        early_stopping_patience=config.early_stopping_patience or 2,
        group_by_length=config.group_by_length,
        device=device,
        precision=precision,
        seed=config.seed,
        time_budget_s=budget,
        quantization=quantization,
        gradient_checkpointing=bool(checkpointing),
        max_new_tokens=max_new_tokens,
        notes=notes,
    )


def choose_quantization(
    requested: str, device: str, method: str, n_params: int, gpu_memory: int | None
) -> tuple[str, str | None]:
    """``("4bit" | "none", note)``: 4-bit QLoRA when asked, or (``"auto"``) when a causal base
    in bf16 would not fit the GPU's memory. A pure function of these facts."""
    if requested == "none":
        return "none", None
    if requested == "4bit":
        if device != "cuda":
            raise InvalidInput("quantization '4bit' needs a CUDA device (bitsandbytes)")
        if method != "lora":
            raise InvalidInput("quantization '4bit' trains LoRA adapters; method 'full' cannot")
        return "4bit", "quantization 4bit (QLoRA, NF4): asked for by the job"
    if device != "cuda" or method != "lora" or gpu_memory is None:
        return "none", None
    need = int(2 * n_params * BF16_OVERHEAD) + GPU_RESERVE_BYTES
    if need <= gpu_memory:
        return "none", None
    return "4bit", (
        f"quantization 4bit (QLoRA, NF4): the base needs about {need / 2**30:.1f} GiB in bf16, "
        f"the GPU has {gpu_memory / 2**30:.1f} GiB"
    )


def _max_length(
    config: JobConfig, base: BaseFacts, stats: DataStats, cap: int, notes: list[str]
) -> int:
    limit = base.max_positions if base.max_positions > 0 else 512
    if config.max_length is not None:
        return min(config.max_length, limit)
    max_length = max(16, min(_round_up(stats.length_p99, 8), cap, limit))
    notes.append(f"max_length {max_length}: 99th percentile of {stats.length_p99} tokens")
    return max_length


def _budget(
    config: JobConfig, device: str, default_s: float, epochs: float, notes: list[str]
) -> float | None:
    budget = config.time_budget_s
    if budget is None and config.epochs is None and device == "cpu":
        budget = default_s
    if budget is not None:
        notes.append(
            f"epochs: up to {epochs:g}, within {budget:.0f}s of training; the learning "
            "rate decays to zero by whichever ends first"
        )
    return budget


def head_learning_rate(lr: float) -> float:
    """A new head starts from nothing: it gets ten times the body's rate, within reason."""
    return round(min(10 * lr, 5e-3), 12)


def _batch_for(n_train: int) -> int:
    return 16 if n_train < 2000 else 32


def _max_epochs(n_train: int) -> int:
    """Enough passes for roughly 1,500 optimizer steps on small data, never fewer than 3."""
    return max(3, min(20, round(40_000 / max(n_train, 1))))


def _round_up(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple
